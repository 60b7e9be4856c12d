/**
 * The Dashboard's data: control state, metrics report and pending approvals fetched from the daemon,
 * the recent runs and the index as the extension already knows them. Refreshed on the daemon's
 * change notifications, debounced, and only while the view is visible: no polling timer.
 */
import * as vscode from 'vscode';
import {
  ApprovalsChangedNotification,
  ApprovalsListRequest,
  BudgetAdviceRequest,
  ControlChangedNotification,
  ControlStateRequest,
  EvalReportRequest,
  EvalsChangedNotification,
  MetricsReportRequest,
  StaleRunsRequest,
  type ControlState,
} from '@keel/schemas';
import { type DashboardSnapshot, type MetricsReport } from '@keel/schemas/src/webviews';
import type { DaemonClient } from '../daemonClient';
import type { RunsStore } from '../runs/runsStore';
import { DASHBOARD_DAYS, localDay } from './dashboardModel';
import { Debouncer } from './debounce';

interface Fetched {
  control: ControlState | null;
  report: MetricsReport | null;
  pendingApprovals: number | null;
  staleRuns: DashboardSnapshot['staleRuns'];
  evals: DashboardSnapshot['evals'];
  advice: DashboardSnapshot['advice'];
  error: string | null;
}

const NOTHING: Fetched = {
  control: null,
  report: null,
  pendingApprovals: null,
  staleRuns: null,
  evals: null,
  advice: null,
  error: null,
};

export class DashboardFeed implements vscode.Disposable {
  private fetched: Fetched = NOTHING;
  private visible = false;
  /** Something changed while the view was hidden: fetch when it shows again. */
  private stale = true;
  private queue: Promise<void> = Promise.resolve();
  /** Counts control states applied from a stop or resume answer, which outrank a fetch begun before. */
  private controlApplied = 0;
  private readonly debouncer = new Debouncer(() => this.refreshNow());
  private readonly changed = new vscode.EventEmitter<DashboardSnapshot>();
  private readonly disposables: vscode.Disposable[] = [];
  /** A new snapshot to show. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly client: DaemonClient,
    private readonly store: RunsStore,
  ) {
    const invalidate = (): void => this.invalidate();
    this.disposables.push(
      client.onNotification(ControlChangedNotification, invalidate),
      client.onNotification(ApprovalsChangedNotification, invalidate),
      client.onNotification(EvalsChangedNotification, invalidate),
      // The store applies `keel/runs/changed` first, so the snapshot has the run as it now is.
      store.onDidChangeRuns(invalidate),
      // The connection, and the index through `keel/index/didChange`, which the client keeps.
      client.onDidChange(invalidate),
      this.changed,
    );
  }

  get snapshot(): DashboardSnapshot {
    const state = this.client.state;
    const running = state.connection === 'running';
    const fetched = running ? this.fetched : NOTHING;
    return {
      connection: state.connection,
      ...fetched,
      days: DASHBOARD_DAYS,
      today: localDay(new Date()),
      runs: running ? this.store.runs.runs : [],
      index: running ? state.index : null,
    };
  }

  /** The view shows (fetch now if anything changed meanwhile) or hides (stop fetching). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (!visible || !this.stale) return;
    this.debouncer.cancel();
    this.refreshNow();
  }

  /** A control state just answered by the daemon (stop, resume): shown at once. */
  applyControl(control: ControlState): void {
    this.controlApplied++;
    this.fetched = { ...this.fetched, control };
    this.changed.fire(this.snapshot);
    this.invalidate();
  }

  dispose(): void {
    this.debouncer.cancel();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private invalidate(): void {
    this.stale = true;
    if (this.visible) this.debouncer.trigger();
  }

  /** Fetches one after the other, so an older answer never overwrites a newer one. */
  private refreshNow(): void {
    this.stale = false;
    this.queue = this.queue
      .then(() => this.fetch())
      .catch((error: unknown) => {
        this.fetched = { ...NOTHING, error: (error as Error).message };
      })
      .then(() => this.changed.fire(this.snapshot));
  }

  private async fetch(): Promise<void> {
    if (this.client.state.connection !== 'running') {
      this.fetched = NOTHING;
      return;
    }
    const applied = this.controlApplied;
    const since = new Date();
    since.setHours(0, 0, 0, 0);
    since.setDate(since.getDate() - (DASHBOARD_DAYS - 1));
    const [control, report, approvals, stale, evals, advice] = await Promise.allSettled([
      this.client.request(ControlStateRequest),
      this.client.request(MetricsReportRequest, { since: since.toISOString() }),
      this.client.request(ApprovalsListRequest, { status: ['pending', 'stale'] }),
      // Re-fetched when the index changes (a note was saved): its runs may have gone stale.
      this.client.request(StaleRunsRequest),
      this.client.request(EvalReportRequest, { since: since.toISOString() }),
      this.client.request(BudgetAdviceRequest, { since: since.toISOString() }),
    ]);
    const errors = [control, report, approvals, stale, evals, advice]
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason as Error).message);
    // A stop or resume answered while this fetch was under way is newer than what it read.
    const superseded = applied !== this.controlApplied;
    this.fetched = {
      control: superseded ? this.fetched.control : control.status === 'fulfilled' ? control.value : null,
      report: report.status === 'fulfilled' ? report.value : null,
      pendingApprovals: approvals.status === 'fulfilled' ? approvals.value.approvals.length : null,
      staleRuns: stale.status === 'fulfilled' ? stale.value.runs : null,
      evals: evals.status === 'fulfilled' ? evals.value : null,
      advice: advice.status === 'fulfilled' ? advice.value : null,
      error: errors.length > 0 ? [...new Set(errors)].join(' ') : null,
    };
  }
}
