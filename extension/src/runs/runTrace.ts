/**
 * Keel: Show Run Trace. A run's trace is a read-only Markdown document (`keel-run:` URIs) rendered
 * from `keel/runs/get`: searchable with Find, foldable by step, listed in the Outline, copyable,
 * and one keystroke from a rendered preview. It refreshes while the run is live; retrieved memory
 * locations are links that open the note at its line, and a run waiting for approval links to the
 * proposal's diff.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { FINISHED_RUN_STATUSES, RunGetRequest, type RunSummary } from '@keel/schemas';
import { commandLink } from '../commandIds';
import type { DaemonClient } from '../daemonClient';
import { renderTrace, type TraceLink, type WaitingFor } from './traceMarkdown';
import type { RunsStore } from './runsStore';

export const TRACE_SCHEME = 'keel-run';
/** A live run changes step by step; the trace follows, at most this often. */
const REFRESH_MS = 300;

export class RunTraceProvider
  implements vscode.TextDocumentContentProvider, vscode.DocumentLinkProvider, vscode.Disposable
{
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly links = new Map<string, TraceLink[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly folder: string,
    private readonly client: DaemonClient,
    store: RunsStore,
    /** What a waiting run waits for: the proposal's summary and files, or null when unknown. */
    private readonly waitingFor: (proposalId: string) => Promise<WaitingFor | null>,
  ) {
    this.disposables = [
      vscode.workspace.registerTextDocumentContentProvider(TRACE_SCHEME, this),
      vscode.languages.registerDocumentLinkProvider({ scheme: TRACE_SCHEME }, this),
      store.onDidChangeRun((run) => this.refreshSoon(run)),
      vscode.workspace.onDidCloseTextDocument((document) => this.links.delete(document.uri.toString())),
      this.changed,
    ];
  }

  static uri(run: Pick<RunSummary, 'id' | 'runbook'>): vscode.Uri {
    // The tab shows `<id>.md`; the runbook's name sits in the path for the tab's description.
    return vscode.Uri.from({ scheme: TRACE_SCHEME, path: `/${run.runbook}/${run.id}.md` });
  }

  async show(run: Pick<RunSummary, 'id' | 'runbook'>): Promise<void> {
    const document = await vscode.workspace.openTextDocument(RunTraceProvider.uri(run));
    await vscode.window.showTextDocument(document, { preview: false });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const rendered = await this.markdown(runId(uri));
    if (rendered.links.length > 0) this.links.set(uri.toString(), rendered.links);
    else this.links.delete(uri.toString());
    return rendered.text;
  }

  /** The run's trace as Markdown, as this document shows it (the timeline's "Copy as Markdown"). */
  async markdown(id: string): Promise<{ text: string; links: TraceLink[] }> {
    try {
      const trace = await this.client.request(RunGetRequest, { id });
      const live = !FINISHED_RUN_STATUSES.includes(trace.run.status);
      const proposalId = trace.run.status === 'waiting_approval' ? trace.run.waitingFor : null;
      const waiting = proposalId
        ? ((await this.waitingFor(proposalId).catch(() => null)) ?? {
            id: proposalId,
            summary: null,
            changes: [],
          })
        : null;
      return renderTrace(trace, { now: Date.now(), live, waiting });
    } catch (error) {
      return {
        text: `# Run ${id}\n\nThe trace could not be loaded: ${(error as Error).message}\n`,
        links: [],
      };
    }
  }

  provideDocumentLinks(document: vscode.TextDocument): vscode.DocumentLink[] {
    return (this.links.get(document.uri.toString()) ?? []).map((link) => {
      const range = new vscode.Range(link.line, link.startColumn, link.line, link.endColumn);
      if (link.kind === 'run') {
        const documentLink = new vscode.DocumentLink(
          range,
          RunTraceProvider.uri({ id: link.runId, runbook: link.runbook }),
        );
        documentLink.tooltip = `Open the trace of run ${link.runId}`;
        return documentLink;
      }
      if (link.kind === 'memoryAsOf') {
        const documentLink = new vscode.DocumentLink(
          range,
          vscode.Uri.parse(commandLink('keel.searchMemoryAsOf', [link.asOf])),
        );
        documentLink.tooltip = 'Search the notes as they were in git when this run started';
        return documentLink;
      }
      if (link.kind === 'proposal') {
        const documentLink = new vscode.DocumentLink(
          range,
          vscode.Uri.parse(commandLink('keel.openProposal', [link.proposalId])),
        );
        documentLink.tooltip = 'Open the diff of the proposed change';
        return documentLink;
      }
      // The `#L<line>` fragment makes VS Code open the file with the cursor on that line.
      const target = vscode.Uri.file(join(this.folder, ...link.path.split('/'))).with({
        fragment: `L${link.targetLine}`,
      });
      const documentLink = new vscode.DocumentLink(range, target);
      documentLink.tooltip = `Open ${link.path} at line ${link.targetLine}`;
      return documentLink;
    });
  }

  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    for (const disposable of this.disposables) disposable.dispose();
  }

  /** Re-renders the open trace of `run`, if any; bursts of changes render once. */
  private refreshSoon(run: RunSummary): void {
    const uri = RunTraceProvider.uri(run);
    const key = uri.toString();
    if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === key)) return;
    if (this.timers.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.changed.fire(uri);
      }, REFRESH_MS),
    );
  }
}

function runId(uri: vscode.Uri): string {
  return (uri.path.split('/').at(-1) ?? '').replace(/\.md$/, '');
}
