/**
 * Keel's VS Code extension: thin by design. It starts the workspace's daemon, renders its state in
 * the sidebar and the status bar, and turns the operator's gestures into requests. With a folder
 * open, one KeelSession owns all of that; without one, every view and command says to open one.
 */
import * as vscode from 'vscode';
import { registerCommands, registerCommandsWithoutFolder } from './commands';
import { registerDashboard, registerDashboardWithoutFolder } from './dashboard/dashboard';
import { KeelSession } from './session';
import { runSidebarAction, runSidebarActionWithoutFolder } from './sidebar/sidebarActions';
import { feedSidebar, sessionState, showState, sidebarSnapshot } from './sidebar/sidebarFeed';
import { noFolderState } from './sidebar/sidebarState';
import { SidebarViewProvider } from './sidebar/sidebarView';
import { StatusBar } from './sidebar/statusBar';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Keel', { log: true });
  const statusBar = new StatusBar();
  context.subscriptions.push(output, statusBar);
  const folder = firstLocalFolder();
  if (folder) await activateInFolder(context, folder, output, statusBar);
  else activateWithoutFolder(context, output, statusBar);
}

export function deactivate(): void {
  // Disposables in context.subscriptions stop the daemon client (the session disposes it).
}

async function activateInFolder(
  context: vscode.ExtensionContext,
  folder: string,
  output: vscode.LogOutputChannel,
  statusBar: StatusBar,
): Promise<void> {
  const session = new KeelSession(folder, {
    extensionUri: context.extensionUri,
    daemonModule: context.asAbsolutePath('dist/keeld.js'),
    output,
    secrets: context.secrets,
    revealRun: (id) => sidebar.revealRun(id),
  });
  const sidebar: SidebarViewProvider = new SidebarViewProvider(
    context.extensionUri,
    () => sidebarSnapshot(session),
    (message) => runSidebarAction(message, session, sidebar),
    output,
  );
  const render = (): void =>
    showState(sessionState(session), session.approvals.store.waiting, statusBar, sidebar);
  context.subscriptions.push(
    session,
    sidebar,
    vscode.window.registerWebviewViewProvider(SidebarViewProvider.viewId, sidebar),
    ...registerCommands(session),
    vscode.workspace.onDidGrantWorkspaceTrust(render),
    ...registerDashboard(context.extensionUri, session),
    ...feedSidebar(session, sidebar, render),
  );
  await session.start();
  render();
}

function activateWithoutFolder(
  context: vscode.ExtensionContext,
  output: vscode.LogOutputChannel,
  statusBar: StatusBar,
): void {
  const state = () => noFolderState(vscode.workspace.isTrusted);
  const sidebar: SidebarViewProvider = new SidebarViewProvider(
    context.extensionUri,
    () => [{ type: 'state', state: state() }],
    (message) => runSidebarActionWithoutFolder(message, sidebar, output),
    output,
  );
  const render = (): void => showState(state(), 0, statusBar, sidebar);
  context.subscriptions.push(
    sidebar,
    vscode.window.registerWebviewViewProvider(SidebarViewProvider.viewId, sidebar),
    ...registerCommandsWithoutFolder({ output }),
    vscode.workspace.onDidGrantWorkspaceTrust(render),
    ...registerDashboardWithoutFolder(context.extensionUri, output),
  );
  render();
}

function firstLocalFolder(): string | null {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  return folder ? folder.uri.fsPath : null;
}
