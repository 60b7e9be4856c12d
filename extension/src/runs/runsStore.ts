/**
 * The extension's copy of the workspace's runbooks and recent runs. Lists them when the daemon
 * (re)starts, then keeps them current from `keel/runbooks/changed` and `keel/runs/changed`: no
 * polling, and no watching of files the daemon already watches.
 */
import * as vscode from 'vscode';
import {
  RunbooksChangedNotification,
  RunbooksListRequest,
  RunChangedNotification,
  RunsListRequest,
  type RunbookInfo,
  type RunSummary,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { isAtLeastAsRecent, mergeRun, RECENT_RUNS, sortRuns } from './runList';

export class RunsStore implements vscode.Disposable {
  private runbookList: RunbookInfo[] = [];
  private runbookError: string | null = null;
  private runList: RunSummary[] = [];
  private runError: string | null = null;
  /** Runs that changed while a list request was under way: applied on top of its answer. */
  private changedWhileListing: RunSummary[] | null = null;
  private wasRunning = false;
  private readonly runbooksChanged = new vscode.EventEmitter<void>();
  private readonly runsChanged = new vscode.EventEmitter<void>();
  private readonly runChanged = new vscode.EventEmitter<RunSummary>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChangeRunbooks = this.runbooksChanged.event;
  readonly onDidChangeRuns = this.runsChanged.event;
  /** One run changed: pushed by the daemon, or started or cancelled from here. */
  readonly onDidChangeRun = this.runChanged.event;

  constructor(private readonly client: DaemonClient) {
    this.disposables.push(
      client.onNotification(RunbooksChangedNotification, ({ runbooks }) => this.setRunbooks(runbooks)),
      client.onNotification(RunChangedNotification, (run) => this.apply(run)),
      client.onDidChange((snapshot) => {
        const running = snapshot.connection === 'running';
        if (running && !this.wasRunning) void this.refresh();
        this.wasRunning = running;
      }),
      this.runbooksChanged,
      this.runsChanged,
      this.runChanged,
    );
  }

  get runbooks(): { runbooks: RunbookInfo[]; error: string | null } {
    return { runbooks: this.runbookList, error: this.runbookError };
  }

  get runs(): { runs: RunSummary[]; error: string | null } {
    return { runs: this.runList, error: this.runError };
  }

  run(id: string): RunSummary | undefined {
    return this.runList.find((r) => r.id === id);
  }

  async refresh(): Promise<void> {
    await Promise.all([this.refreshRunbooks(), this.refreshRuns()]);
  }

  async refreshRunbooks(): Promise<void> {
    try {
      const { runbooks } = await this.client.request(RunbooksListRequest);
      this.setRunbooks(runbooks);
    } catch (error) {
      this.runbookError = (error as Error).message;
      this.runbooksChanged.fire();
    }
  }

  async refreshRuns(): Promise<void> {
    this.changedWhileListing = [];
    try {
      const { runs } = await this.client.request(RunsListRequest, { limit: RECENT_RUNS });
      let list = sortRuns(runs);
      for (const run of this.changedWhileListing) {
        const listed = list.find((r) => r.id === run.id);
        if (!listed || isAtLeastAsRecent(run, listed)) list = mergeRun(list, run);
      }
      this.runList = list;
      this.runError = null;
    } catch (error) {
      this.runError = (error as Error).message;
    } finally {
      this.changedWhileListing = null;
    }
    this.runsChanged.fire();
  }

  /**
   * A run as the daemon described it. Reports can arrive out of order (the answer to a start after
   * the run's first notifications): one that is behind what is known is dropped.
   */
  apply(run: RunSummary): void {
    this.changedWhileListing?.push(run);
    const known = this.run(run.id);
    if (known && !isAtLeastAsRecent(run, known)) return;
    this.runList = mergeRun(this.runList, run);
    this.runsChanged.fire();
    this.runChanged.fire(run);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }

  private setRunbooks(runbooks: RunbookInfo[]): void {
    this.runbookList = [...runbooks].sort((a, b) => a.name.localeCompare(b.name));
    this.runbookError = null;
    this.runbooksChanged.fire();
  }
}
