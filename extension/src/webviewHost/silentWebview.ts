/**
 * Webviews whose page never loaded. VS Code in a browser (code-server) serves each webview's frame
 * through a service worker; when two webviews start together, one frame can wait for good for its
 * worker (for a change of controller that has already happened) and stay blank. Nothing the host
 * posts reaches that frame, and new html goes to the same frame: only a new frame loads. VS Code
 * builds one when a view is shown again, or for a new panel. So a silent webview
 * (readyHandshake.ts) is loaded again that way, twice at most until it is heard from; after that
 * the log says what to do. The count is kept by name here, as a reopened panel is a new host.
 */
import * as vscode from 'vscode';

const MAX_RELOADS = 2;
const reloads = new Map<string, number>();

/** The webview `name` ("the Keel Dashboard") was heard from: a later silence may be reloaded again. */
export function heardFrom(name: string): void {
  reloads.delete(name);
}

/** Whether the silent webview `name` may be loaded again; says which in the log. */
export function mayReload(name: string, output: vscode.LogOutputChannel): boolean {
  const done = reloads.get(name) ?? 0;
  if (done >= MAX_RELOADS) {
    output.error(`Could not load ${name}, also after ${MAX_RELOADS} tries: run "Developer: Reload Window".`);
    return false;
  }
  reloads.set(name, done + 1);
  output.warn(`Loading ${name} again: its page did not load (${done + 1} of ${MAX_RELOADS}).`);
  return true;
}

/** Hides the view and shows it again, for a new frame. A hidden view gets one when shown anyway. */
export async function reloadSilentView(
  view: vscode.WebviewView,
  name: string,
  output: vscode.LogOutputChannel,
): Promise<void> {
  if (!view.visible || !mayReload(name, output)) return;
  try {
    // VS Code names each view's show/hide command after the view's id (its viewType).
    await vscode.commands.executeCommand(`${view.viewType}.toggleVisibility`);
    await vscode.commands.executeCommand(`${view.viewType}.toggleVisibility`);
  } catch (error) {
    output.error(`Could not load ${name} again: ${(error as Error).message}`);
  }
}
