/**
 * A run's timeline: a webview panel "Run <id>" per run, fed the run's trace (`keel/runs/get`)
 * again each time the run changes, so it follows a live run. It turns the operator's clicks,
 * validated here, into the existing commands: open a child run, a note at a line, take over from a
 * step, copy or open the Markdown form. Its content security policy lets only its bundled script run.
 */
import * as vscode from 'vscode';
import {
  FINISHED_RUN_STATUSES,
  RunGetRequest,
  TimelineToHostMessage,
  type HostToTimelineMessage,
  type RunSummary,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { ReadyHandshake } from '../webviewHost/readyHandshake';
import type { RunTraceProvider } from './runTrace';
import { webviewPage } from '../webviewHost/webviewPage';
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
  private readonly handshake = new ReadyHandshake(() => this.catchUp());
  private last: HostToTimelineMessage | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: TimelineDeps,
    private readonly runId: string,
    private readonly openRun: (id: string) => Promise<void>,
    private readonly onClosed: () => void,
  ) {
    const dist = vscode.Uri.joinPath(deps.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(deps.extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(
      RunTimelines.viewType,
      `Run ${runId}`,
      vscode.ViewColumn.Active,
      { enableScripts: true, localResourceRoots: [dist, media] },
    );
    this.panel.webview.html = webviewPage(this.panel.webview, {
      script: vscode.Uri.joinPath(dist, 'timeline.js'),
      style: vscode.Uri.joinPath(media, 'timeline.css'),
      title: `Run ${runId}`,
      main: '<main id="timeline" aria-busy="true"><p class="muted">Loading…</p></main>',
    });
    this.panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw));
    // A hidden panel's page is dropped; shown again, it loads anew and needs the trace again.
    this.panel.onDidChangeViewState(({ webviewPanel }) => {
      if (webviewPanel.visible) this.handshake.start();
    });
    this.panel.onDidDispose(() => {
      this.stop();
      this.onClosed();
    });
    this.handshake.start();
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
    this.catchUp();
  }

  refreshSoon(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_MS);
  }

  dispose(): void {
    this.panel.dispose();
  }

  private stop(): void {
    this.handshake.dispose();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private catchUp(): void {
    if (this.last) void this.panel.webview.postMessage(this.last);
  }

  private receive(raw: unknown): void {
    const message = TimelineToHostMessage.safeParse(raw);
    if (!message.success) {
      this.deps.output.warn(`Ignored a malformed message from a run timeline: ${JSON.stringify(raw)}`);
      return;
    }
    void this.act(message.data).catch((error: unknown) =>
      vscode.window.showErrorMessage(`Keel: ${(error as Error).message}`),
    );
  }

  private async act(message: TimelineToHostMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.handshake.ready();
        return;
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
