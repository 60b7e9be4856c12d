/**
 * A run's timeline: a webview panel "Run <id>" per run, fed the run's trace (`keel/runs/get`)
 * again each time the run changes, so it follows a live run. It turns the operator's clicks,
 * validated here, into the existing commands: open a child run, a note at a line, take over from a
 * step, copy or open the Markdown form. Its content security policy lets only its bundled script run.
 */
import * as vscode from 'vscode';
import { FINISHED_RUN_STATUSES, RunGetRequest, type RunSummary } from '@keel/schemas';
import { TimelineToHostMessage, type HostToTimelineMessage } from '@keel/schemas/src/webviews';
import type { DaemonClient } from '../daemonClient';
import { WebviewViewHost, type ActionOf } from '../webviewHost/webviewViewHost';
import type { RunTraceProvider } from './runTrace';
import { openNoteAt } from './openNote';
import type { RunsStore } from './runsStore';
import { executeKeelCommand } from '../executeKeelCommand';

/** A live run changes step by step; the timeline follows, at most this often. */
const REFRESH_MS = 300;

export interface TimelineDeps {
  extensionUri: vscode.Uri;
  folder: string;
  client: DaemonClient;
  store: RunsStore;
  /** The Markdown form of traces: "Copy as Markdown" and "Open as Markdown". */
  markdown: RunTraceProvider;
  output: vscode.LogOutputChannel;
}

/** Every open timeline, one per run; opening a run again reveals its panel. */
export class RunTimelines implements vscode.Disposable {
  static readonly viewType = 'keel.runTimeline';
  private readonly panels = new Map<string, TimelinePanel>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly deps: TimelineDeps) {
    this.subscription = deps.store.onDidChangeRun((run) => this.panels.get(run.id)?.refreshSoon());
  }

  async show(run: Pick<RunSummary, 'id' | 'runbook'>): Promise<void> {
    const open = this.panels.get(run.id);
    if (open) {
      open.reveal();
      return;
    }
    const panel = new TimelinePanel(
      this.deps,
      run.id,
      (id) => this.show({ id, runbook: 'run' }),
      () => this.panels.delete(run.id),
    );
    this.panels.set(run.id, panel);
    await panel.refresh();
  }

  dispose(): void {
    this.subscription.dispose();
    for (const panel of [...this.panels.values()]) panel.dispose();
  }
}

class TimelinePanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly host: WebviewViewHost<TimelineToHostMessage, HostToTimelineMessage>;
  private last: HostToTimelineMessage | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: TimelineDeps,
    private readonly runId: string,
    private readonly openRun: (id: string) => Promise<void>,
    onClosed: () => void,
  ) {
    this.host = new WebviewViewHost({
      extensionUri: deps.extensionUri,
      name: `the timeline of run ${runId}`,
      page: {
        script: 'timeline.js',
        style: 'timeline.css',
        title: `Run ${runId}`,
        main: '<main id="timeline" aria-busy="true"><p class="muted">Loading…</p></main>',
      },
      incoming: TimelineToHostMessage,
      catchUp: () => (this.last ? [this.last] : []),
      handle: (message) => this.act(message),
      output: deps.output,
      reopen: () => this.openRun(runId),
      onClosed: () => {
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
        onClosed();
      },
    });
    this.panel = this.host.openPanel(RunTimelines.viewType, `Run ${runId}`);
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** Fetches the trace and sends it; bursts of changes (`refreshSoon`) fetch once. */
  async refresh(): Promise<void> {
    try {
      const trace = await this.deps.client.request(RunGetRequest, { id: this.runId });
      this.last = { type: 'trace', trace, live: !FINISHED_RUN_STATUSES.includes(trace.run.status) };
    } catch (error) {
      this.last = { type: 'error', message: `The run could not be loaded: ${(error as Error).message}` };
    }
    this.host.post(this.last);
  }

  refreshSoon(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_MS);
  }

  dispose(): void {
    this.host.dispose();
  }

  private async act(message: ActionOf<TimelineToHostMessage>): Promise<void> {
    switch (message.type) {
      case 'openRun':
        return this.openRun(message.id);
      case 'openNote':
        return openNoteAt(this.deps.folder, message.path, message.line);
      case 'takeOver':
        await executeKeelCommand('keel.takeOverRun', this.runId, message.stepId);
        return;
      case 'openProposal':
        await executeKeelCommand('keel.openProposal', message.id);
        return;
      case 'copyMarkdown': {
        const { text } = await this.deps.markdown.markdown(this.runId);
        await vscode.env.clipboard.writeText(text);
        void vscode.window.showInformationMessage(
          `Keel: the trace of run ${this.runId} is on the clipboard.`,
        );
        return;
      }
      case 'openMarkdown': {
        const runbook = this.last?.type === 'trace' ? this.last.trace.run.runbook : 'run';
        return this.deps.markdown.show({ id: this.runId, runbook });
      }
    }
  }
}
