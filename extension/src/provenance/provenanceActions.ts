/**
 * Provenance in the editor: a CodeLens over each Markdown note of the workspace saying how many
 * runs used it and how many of those may be stale; clicking it lists those runs (picking one opens
 * its trace); and the Re-run of a possibly stale run. The daemon answers; nothing is decided here.
 */
import { relative, sep } from 'node:path';
import * as vscode from 'vscode';
import { MemoryWhyRequest, RunRerunRequest } from '@keel/schemas';
import type { RunsContext } from '../runs/runActions';
import { codeLensTitle, runPickItems } from './provenanceModel';
import type { KeelCommand } from '../commandIds';
import { executeKeelCommand } from '../executeKeelCommand';

const time = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The note's workspace-relative path, or null for a file outside the folder. */
export function notePathOf(folder: string, uri: vscode.Uri): string | null {
  if (uri.scheme !== 'file') return null;
  const path = relative(folder, uri.fsPath);
  if (path === '' || path.startsWith(`..${sep}`) || path === '..') return null;
  return path.split(sep).join('/');
}

export class NoteCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly runs: RunsContext) {
    const refresh = (): void => this.changed.fire();
    // A run read a note, or the index saw a note change: the counts may differ now.
    this.disposables = [this.changed, runs.store.onDidChangeRuns(refresh), runs.client.onDidChange(refresh)];
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const path = notePathOf(this.runs.folder, document.uri);
    if (!path || this.runs.client.state.connection !== 'running') return [];
    const why = await this.runs.client.request(MemoryWhyRequest, { path }).catch(() => null);
    const title = why ? codeLensTitle(why) : null;
    if (!title) return [];
    return [
      new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), {
        title,
        tooltip: 'The Keel runs that used this note; pick one to open its trace',
        command: 'keel.showNoteRuns' satisfies KeelCommand,
        arguments: [path],
      }),
    ];
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}

/** The runs that used the note (the active editor's without a path), as a quick pick. */
export async function showNoteRuns(context: RunsContext, path?: string): Promise<void> {
  const note =
    path ??
    (vscode.window.activeTextEditor
      ? notePathOf(context.folder, vscode.window.activeTextEditor.document.uri)
      : null);
  if (!note) {
    void vscode.window.showInformationMessage('Keel: open a note of this workspace first.');
    return;
  }
  const why = await context.client.request(MemoryWhyRequest, { path: note });
  const items = runPickItems(why, time);
  if (items.length === 0) {
    void vscode.window.showInformationMessage(`Keel: no run has used ${why.path} yet.`);
    return;
  }
  const chosen = await vscode.window.showQuickPick(items, {
    title: `Keel: runs that used ${why.path}`,
    placeHolder: 'Open the trace of which run?',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (chosen) await executeKeelCommand('keel.showRunTrace', chosen.runId);
}

/** Starts the run's runbook again with the same inputs; the run shows in the sidebar. */
export async function rerunRun(context: RunsContext, id?: string): Promise<void> {
  if (id === undefined) {
    void vscode.window.showInformationMessage(
      'Keel: re-run a run from the Dashboard\'s "Possibly stale outputs", or run its runbook again.',
    );
    return;
  }
  const run = await context.client.request(RunRerunRequest, { id });
  context.store.apply(run);
  await context.revealRun(run.id);
}

/** The note CodeLens, on the workspace's Markdown files. */
export function registerNoteCodeLens(runs: RunsContext): vscode.Disposable[] {
  const provider = new NoteCodeLensProvider(runs);
  return [
    provider,
    vscode.languages.registerCodeLensProvider(
      { scheme: 'file', language: 'markdown', pattern: new vscode.RelativePattern(runs.folder, '**/*.md') },
      provider,
    ),
  ];
}
