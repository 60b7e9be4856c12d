/**
 * The conductor: the one scheduler of runs in a workspace, a facade over its parts: the run queue
 * (slots, runs under way), recovery (unfinished runs taken up at start and on trust) and the run
 * history each execution reads and writes. It starts, executes, cancels and replays runs and
 * tells clients as they change. Runs hold no state outside their journals.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { FORECAST_HISTORY_LIMIT } from '@keel/schemas';
import type {
  BudgetAdvice,
  QuotaState,
  BreakerState,
  ControlState,
  CostForecast,
  Proposal,
  Runbook,
  RunbookInfo,
  RunbookTestResult,
  RunSummary,
  GcItem,
  RunTrace,
  TrustEndpoint,
  WorkspaceConfig,
} from '@keel/schemas';
import { ApprovalService } from '../approvals/approvalService';
import { budgetAdvice } from '../governance/advice';
import { GovernanceRefusal, Governor } from '../governance/governor';
import { periodStart } from '../governance/quotas';
import { OperatorError } from '../errors';
import { metricsReport, type MetricsReport } from '../governance/metrics';
import { feedbackPath, latestFeedback } from '../approvals/feedback';
import { CassetteProvider, cassetteMemory } from './models/cassetteProvider';
import {
  clearKeelTemp,
  isProtected,
  keelDir as keelStateDir,
  removePlantedLink,
  workspaceRelative,
} from '../files/workspacePaths';
import type { Logger } from '../log';
import { StateSeal } from '../runtime/stateKey';
import { writeCassette, type ChildRecords } from './cassettes';
import { ChildRuns } from './childRuns';
import { Journal, journalPath, readJournal } from './journal';
import type { JournalRecord, RecordOf } from './journalRecords';
import { providerFor } from './models/providers';
import type { ModelProvider } from './models/modelProvider';
import { Evaluations, type EvalRun } from './evals/evaluations';
import { checkInputs, type InputValues } from './runInputs';
import { Recovery } from './recovery';
import type { Clock } from './triggerSchedule';
import { applyGc, planGc, type GcHost } from './keelGc';
import { RunbookCatalog } from './runbookCatalog';
import { recordedRunbook, runbookVersion } from './runbookVersion';
import { costGateMessage, forecastCost } from './costForecast';
import { executeRun } from './runExecutor';
import { ConnectorSecrets } from '../connectors/credentials';
import { ConnectorRegistry } from '../connectors/registry';
import { WorkspaceConnectors, type ProbeBreakers } from '../connectors/workspaceConnectors';
import { RunHistory } from './runHistory';
import { RunProgress } from './runProgress';
import { RunQueue, type ActiveRun } from './runQueue';
import { replayRun, type ReplayResult } from './replay';
import { runRunbookTests } from './runbookTests';
import { summarize, traceOf } from './runTrace';
import type { MemoryAccess } from './steps/stepRuntime';
import { warmTemplates } from './templates';
import { CheckpointDesk, type CheckpointAnswer } from './checkpoints';
import { currentEnd, planTakeover, type TakeoverRequest } from './takeover';
import { TraceStore } from './traceStore';
import { routedRunbook, routeRun, routeTiers, type RouteChoice } from './models/routing';
import { WorkspaceAnalytics } from '../analytics/workspaceAnalytics';

export interface ConductorOptions {
  workspace: string;
  log: Logger;
  config: WorkspaceConfig;
  /** Where `keel gc` reads the time (tests play a daemon months later); the system's by default. */
  clock?: Clock;
  /** Take up unfinished runs now (the long-lived daemon); a one-command daemon leaves them. */
  resume: boolean;
  memory: () => Promise<MemoryAccess>;
  onRunChanged: (summary: RunSummary) => void;
  onApprovalChanged?: (proposal: Proposal, pending: number) => void;
  onControlChanged?: (state: ControlState) => void;
  env?: NodeJS.ProcessEnv;
  /** The operator's consent: nothing starts, resumes or is sent without it. */
  trust: ConductorTrust;
  /** The connectors Keel has, and the credentials the editor handed over (the built-ins and none by default). */
  connectors?: { registry: ConnectorRegistry; secrets: ConnectorSecrets; probes?: ConnectorProbes };
}

/** The connectors' breakers (ConnectorStatus): refusals for runs, and their states for governance. */
export interface ConnectorProbes extends ProbeBreakers {
  breakers(): BreakerState[];
}

/** What the conductor asks of workspace trust (see trust/workspaceTrust.ts). */
export interface ConductorTrust {
  readonly trusted: boolean;
  allows(endpoint: TrustEndpoint): boolean;
  /** Throws `NotTrusted` (naming what the workspace wants) unless the workspace is trusted. */
  require(what: string): void;
}

/** Raised for a request the operator can fix: an unknown runbook, a missing input. */
export class ConductorRequestError extends OperatorError {}

export class Conductor {
  runbooks: RunbookCatalog;
  private readonly finished = new Map<string, RunSummary>();
  private readonly queue: RunQueue;
  private readonly recovery: Recovery;
  private stopping = false;
  /** The editor's key and the endpoint origin it was stored for: sent nowhere else. */
  private apiKey: { key: string; origin: string } | null = null;
  /** Whether the workspace was trusted when last looked at (opened, or trust changed). */
  private wasTrusted: boolean;
  /** Each runbook's role, for quotas set per role. */
  private readonly roles = new Map<string, string>();
  private governor!: Governor;
  /** Seals every journal line this conductor writes, and checks those it reads. */
  private readonly sealer: StateSeal;
  /** Where hand-offs start their child runs. */
  private readonly children: ChildRuns;
  /** Resolves once every journal was read at start. */
  /** The trace store's catch-up with the journals, once started (see caughtUp). */
  private catchingUp: Promise<void> | null = null;
  /** Where runs at a checkpoint wait for the operator's answer. */
  private readonly checkpoints = new CheckpointDesk();
  /** Runs being taken over now: a second takeover of one of them is refused, not doubled. */
  private readonly takingOver = new Set<string>();
  /** keel.yaml's connectors, as runs use them. */
  readonly connectors: WorkspaceConnectors;
  /** The analytics tables steps store into and query (`.keel/analytics.duckdb`). */
  readonly analytics: WorkspaceAnalytics;
  /** `keel eval`: graded cases run live, their results, baselines and drift (`.keel/evals.duckdb`). */
  readonly evaluations: Evaluations;
  /** One per eval under way: the emergency stop and shutdown end them (their model calls cost money). */
  private readonly evalsUnderWay = new Set<AbortController>();
  /** When watchers hear of a run's steps (a run that ended in the meantime was told of already). */
  private readonly progress = new RunProgress((id) => {
    if (!this.stopping && this.queue.active.has(id)) this.changed(id);
  });

  private constructor(
    private readonly options: ConductorOptions,
    private readonly traces: TraceStore,
    private readonly runsDir: string,
    /** Proposed changes and the operator's decisions on them. */
    readonly approvals: ApprovalService,
  ) {
    this.runbooks = new RunbookCatalog(options.workspace, options.config.runbooks.dir);
    this.analytics = WorkspaceAnalytics.of(options.workspace, traces);
    this.evaluations = new Evaluations(options.workspace, (m) => options.log.warn(m));
    this.connectors = new WorkspaceConnectors(
      {
        workspace: options.workspace,
        registry: options.connectors?.registry ?? new ConnectorRegistry(),
        secrets: options.connectors?.secrets ?? new ConnectorSecrets(),
        env: options.env ?? process.env,
        redact: (value) => options.log.redact(value),
        trust: options.trust,
        ...(options.connectors?.probes ? { probes: options.connectors.probes } : {}),
      },
      options.config,
    );
    this.sealer = new StateSeal(options.workspace);
    this.wasTrusted = options.trust.trusted;
    this.queue = new RunQueue({
      open: () => !this.stopping && !this.governor.stopped && this.options.trust.trusted,
      concurrency: () => this.options.config.runbooks.concurrency,
      execute: (id, run) => this.execute(id, run),
      changed: (id) => void this.changed(id),
      log: options.log,
    });
    this.recovery = new Recovery({
      workspace: options.workspace,
      runsDir,
      sealer: this.sealer,
      log: options.log,
      traces,
      approvals,
      resume: options.resume,
      trusted: () => this.options.trust.trusted,
      redact: this.redact,
      keptRunbook: (run) => this.keptRunbook(run),
      finished: this.finished,
      roles: this.roles,
      enqueue: (id, journal, runbook, stepsTotal) => void this.enqueue(id, journal, runbook, stepsTotal),
    });
    this.children = new ChildRuns({
      runsDir,
      sealer: this.sealer,
      redact: this.redact,
      catalog: () => this.runbooks,
      loaded: () => this.caughtUp(),
      active: (id) => this.queue.active.get(id)?.done ?? null,
      finished: (id) => this.finished.get(id),
      parentRecord: async (id) => (await this.records(id))[0] as RecordOf<'run'>,
      admit: (runbook, role) => {
        this.roles.set(runbook, role);
        this.governor.admit(runbook, role);
      },
      enqueue: (id, journal, runbook) => void this.enqueue(id, journal, runbook),
    });
  }

  static async open(options: ConductorOptions): Promise<Conductor> {
    warmTemplates();
    // Real folders only (no link anywhere on the way), and no temporary file left by a stop.
    const keelDir = await keelStateDir(options.workspace);
    const runsDir = await keelStateDir(options.workspace, 'runs');
    await keelStateDir(options.workspace, 'approvals');
    await clearKeelTemp(options.workspace);
    for (const store of ['runs.duckdb', 'runs.duckdb.wal']) {
      if (await removePlantedLink(join(keelDir, store)))
        options.log.warn(`.keel/${store} was a symbolic link; Keel removed the link and rebuilds it`);
    }
    // DuckDB opens at the store's first read or write, not before a run's first step (issue 14).
    const traces = TraceStore.opening(join(keelDir, 'runs.duckdb'), (m) => options.log.warn(m));
    const approvals = await ApprovalService.open({
      workspace: options.workspace,
      config: options.config,
      log: options.log,
      trusted: () => options.trust.trusted,
      checkEdit: (action, edited) => conductor.connectors.checkEdit(action, edited),
      onChanged: (proposal, pending) => {
        traces.saveApproval(proposal);
        options.onApprovalChanged?.(proposal, pending);
      },
    });
    for (const proposal of approvals.list()) traces.saveApproval(proposal);
    const conductor = new Conductor(options, traces, runsDir, approvals);
    conductor.governor = await Governor.open({
      keelDir,
      config: () => conductor.options.config,
      runs: () => conductor.list(Number.MAX_SAFE_INTEGER),
      roleOf: (runbook) => conductor.roles.get(runbook) ?? null,
      onChanged: (state) => options.onControlChanged?.(state),
      extraBreakers: () => options.connectors?.probes?.breakers() ?? [],
    });
    await conductor.recovery.load();
    // The long-lived daemon brings its store in line at once; one command only when it reads it.
    if (options.resume) void conductor.caughtUp();
    return conductor;
  }

  /**
   * Resolves once the trace store is in line with the journals (Recovery.catchUpStore), which
   * starts it if need be: what reads runs beyond their journals (archived runs, costs, reports)
   * waits for it. A run's start does not, unless a quota or `costAbove` needs its figures.
   */
  caughtUp(): Promise<void> {
    this.catchingUp ??= this.recovery
      .catchUpStore(() => [...this.finished.keys(), ...this.queue.active.keys()])
      .catch((error: unknown) =>
        this.options.log.warn('the run store could not be brought in line with the journals', { error }),
      );
    return this.catchingUp;
  }

  /** Applies a new keel.yaml: models and limits for the next calls, the runbooks folder. */
  configure(config: WorkspaceConfig): void {
    if (config.runbooks.dir !== this.options.config.runbooks.dir) {
      this.runbooks = new RunbookCatalog(this.options.workspace, config.runbooks.dir);
    }
    this.options.config = config;
    this.approvals.configure(config);
    this.connectors.configure(config);
    this.queue.pump();
  }

  /** A key handed over by the editor (from its secret storage); kept in memory, never written. */
  setApiKey(key: string, origin: string): void {
    this.apiKey = { key, origin };
    this.options.log.redact(key);
  }

  /**
   * The operator trusted the workspace, or took trust back. Taken back: every executing run is
   * halted where it is and waits in the queue, as under the emergency stop. Given: approvals
   * interrupted by a stop are finished, unfinished runs resume from their journals, halted ones
   * go on.
   */
  async trustChanged(): Promise<void> {
    // Only on a change: decisions interrupted by a stop are finished once, not again while they
    // are being carried out.
    const trusted = this.options.trust.trusted;
    const rising = trusted && !this.wasTrusted;
    const falling = !trusted && this.wasTrusted;
    this.wasTrusted = trusted;
    if (this.stopping) return;
    if (falling) {
      await this.queue.halt();
      this.options.log.warn('trust taken back: every run halted until the workspace is trusted again');
      return;
    }
    if (!rising) return;
    this.queue.pump();
    await this.approvals.finishInterrupted();
    await this.recovery.resumeDormant();
  }

  async listRunbooks(): Promise<RunbookInfo[]> {
    const all = await this.runbooks.list();
    for (const r of all) if (r.info.role) this.roles.set(r.info.name, r.info.role);
    return all.map((r) => r.info);
  }

  /** The emergency stop: halts every run now (they resume after "resume"), refuses new ones. */
  async emergencyStop(reason: string | null): Promise<ControlState> {
    await this.governor.stop(reason);
    // Runs waiting for the operator execute too (without a slot): they are halted like the rest.
    await this.queue.halt();
    for (const controller of this.evalsUnderWay) controller.abort(new Error('emergency stop'));
    this.options.log.warn('emergency stop: every run halted', { reason: reason ?? 'none given' });
    return this.governor.state();
  }

  async resume(): Promise<ControlState> {
    await this.governor.resume();
    this.options.log.info('emergency stop lifted: halted runs go on');
    this.queue.pump();
    return this.governor.state();
  }

  /** A runbook file changed: runs held for a broken runbook try again. */
  retryHeld(): void {
    this.queue.retryHeld();
  }

  controlState(): ControlState {
    return this.governor.state();
  }

  /** Some breaker kept outside the governor (a connector's) changed: clients and alerts hear of it. */
  publishControl(): void {
    this.governor.publish();
  }

  async metrics(span: { since?: string | undefined; until?: string | undefined }): Promise<MetricsReport> {
    await this.listRunbooks().catch(() => undefined);
    // Runs under way as `keel show` has them now (an end journaled a moment ago included), not as
    // their last published change left them.
    for (const id of this.queue.active.keys()) this.traces.saveRun(this.summaryOfActive(id));
    try {
      return await metricsReport(this.traces, (runbook) => this.roles.get(runbook) ?? null, span);
    } catch (error) {
      throw new ConductorRequestError((error as Error).message);
    }
  }

  /** What a run of this runbook started now would likely cost, and whether it would wait for it. */
  async forecast(runbookName: string): Promise<CostForecast> {
    const loaded = await this.runbooks.get(runbookName).catch((error: Error) => {
      throw new ConductorRequestError(error.message);
    });
    return this.forecastOf(routedRunbook(loaded.runbook, (await this.route(loaded.runbook)) ?? undefined));
  }

  /** The tier a run of a routed runbook starting now would use (models/routing.ts); null unrouted. */
  private route(runbook: Runbook): Promise<RouteChoice | null> {
    // A step's own route is chosen when the step starts; its tiers are checked now, before the run.
    for (const step of runbook.steps) {
      if ('model' in step && step.model) {
        try {
          routeTiers(`${runbook.name} step ${step.id}`, step.model.tiers, this.options.config.models.tiers);
        } catch (error) {
          return Promise.reject(new ConductorRequestError((error as Error).message));
        }
      }
    }
    return routeRun(runbook, this.options.config.models.tiers, (name, tiers) =>
      this.evaluations.latest(name, tiers),
    ).catch((error: Error) => {
      throw new ConductorRequestError(error.message);
    });
  }

  private async forecastOf(runbook: Runbook): Promise<CostForecast> {
    const tier = runbook.model.tier;
    await this.caughtUp();
    return forecastCost({
      runbook: runbook.name,
      tier,
      budgetUsd: runbook.budget.maxUsd,
      costAboveUsd: this.options.config.approvals.costAbove ?? null,
      history: await this.traces.costHistory(runbook.name, tier, FORECAST_HISTORY_LIMIT),
    });
  }

  /** A run the quota refused, priced at its p50 (its budget without history), for budget advice. */
  private async recordRefusal(runbook: Runbook, quota: QuotaState): Promise<void> {
    const forecast = await this.forecastOf(runbook);
    this.traces.recordRefusal({
      runbook: runbook.name,
      agent: quota.agent,
      period: quota.period,
      forecastUsd: forecast.p50Usd ?? forecast.budgetUsd,
      at: new Date().toISOString(),
    });
  }

  /** Budget advice over a span: agents by cost per successful run and rework, and quota moves. */
  async advice(span: { since?: string | undefined; until?: string | undefined }): Promise<BudgetAdvice> {
    const report = await this.metrics(span);
    const now = new Date();
    return budgetAdvice({
      since: report.since,
      until: report.until,
      agents: report.agents,
      quotas: this.governor.state().quotas,
      refusals: await this.traces.refusals(periodStart('month', now).toISOString()),
      now,
    });
  }

  /** Queues a run; answers with its summary at once. */
  start(
    runbookName: string,
    inputs: InputValues,
    cassettes: { record?: string | undefined; replay?: string | undefined } = {},
  ): Promise<RunSummary> {
    return this.startRun(runbookName, inputs, cassettes, null);
  }

  /**
   * Queues the run an event starts for a trigger, at most once: its id is derived from the
   * trigger and the event, and a journal is created exclusively, so the same event handed over
   * again (a crash before its cursor was saved) finds the run it started and starts none.
   */
  async startFromEvent(
    runbookName: string,
    inputs: InputValues,
    origin: EventOrigin,
  ): Promise<{ run: RunSummary; started: boolean }> {
    const id = eventRunId(runbookName, origin);
    await this.caughtUp();
    if (this.queue.active.has(id) || this.finished.has(id)) {
      return { run: await this.summary(id), started: false };
    }
    try {
      const { trigger: _trigger, ...recorded } = origin;
      return { run: await this.startRun(runbookName, inputs, {}, { id, origin: recorded }), started: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { run: await this.summary(id), started: false };
    }
  }

  private async startRun(
    runbookName: string,
    inputs: InputValues,
    cassettes: { record?: string | undefined; replay?: string | undefined },
    event: { id: string; origin: NonNullable<RecordOf<'run'>['origin']> } | null,
  ): Promise<RunSummary> {
    if (this.stopping)
      throw new ConductorRequestError('the daemon is stopping; start the run again when it is back');
    this.options.trust.require('Starting a run');
    const loaded = await this.runbooks.get(runbookName).catch((error: Error) => {
      throw new ConductorRequestError(error.message);
    });
    this.roles.set(loaded.runbook.name, loaded.runbook.role);
    const checked = checkInputs(loaded.runbook, inputs);
    if (cassettes.record) {
      const path = workspaceRelativeOrRefuse(cassettes.record);
      if (!path.endsWith('.json') || isProtected(path, null)) {
        throw new ConductorRequestError(
          `--record ${cassettes.record}: a cassette is a .json file outside keel.yaml, .keel/ and .vscode/ (runbooks/tests/cassettes/ is the place)`,
        );
      }
    }
    // A routed runbook's tier, chosen once here and kept in the run record (a route naming a tier
    // keel.yaml lacks is refused here).
    const route = await this.route(loaded.runbook);
    // A quota counts every run of its period, those only the store lists (archived by gc) too.
    if (this.options.config.quotas.length > 0) await this.caughtUp();
    // Last, after every other check: admitting can take a half-open breaker's one trial.
    try {
      this.governor.admit(loaded.runbook.name, loaded.runbook.role);
    } catch (error) {
      if (error instanceof GovernanceRefusal && error.quota)
        await this.recordRefusal(loaded.runbook, error.quota);
      throw new ConductorRequestError((error as Error).message);
    }
    // A run answered from a cassette spends nothing: it never waits for its cost. Without
    // `costAbove` nothing waits for the forecast either, so the store is not read for it.
    const forecast =
      cassettes.replay || this.options.config.approvals.costAbove === undefined
        ? null
        : await this.forecastOf(routedRunbook(loaded.runbook, route ?? undefined));
    const id = event?.id ?? newRunId(loaded.runbook.name);
    const journal = await Journal.create(
      journalPath(this.runsDir, id),
      {
        type: 'run',
        version: 1,
        id,
        runbook: loaded.runbook.name,
        runbookHash: loaded.hash,
        runbookFile: { path: loaded.info.path, blob: loaded.blob, text: loaded.text },
        inputs: checked,
        recordCassette: cassettes.record ?? null,
        replayCassette: cassettes.replay ?? null,
        ...(event ? { origin: event.origin } : {}),
        ...(forecast?.waits ? { costGate: { message: costGateMessage(forecast), forecast } } : {}),
        ...(route ? { route } : {}),
        at: new Date().toISOString(),
      },
      this.sealer,
      this.redact,
    );
    return this.enqueue(id, journal, loaded.runbook);
  }

  /** Resolves when the run has finished (or at once for a finished run). */
  async wait(id: string): Promise<RunSummary> {
    const active = this.queue.active.get(id);
    if (active) return active.done;
    return this.summary(id);
  }

  list(limit: number, runbook?: string): RunSummary[] {
    const all = [
      ...this.finished.values(),
      ...[...this.queue.active.keys()].map((id) => this.summaryOfActive(id)),
    ];
    return all
      .filter((run) => !runbook || run.runbook === runbook)
      .sort((a, b) =>
        a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id),
      )
      .slice(0, limit);
  }

  /** `keel gc`: what `.keel/` holds past keel.yaml's `retention.keel`, freed when `apply` (keelGc.ts). */
  async gc(
    apply: boolean,
    now = new Date(this.options.clock?.now() ?? Date.now()),
  ): Promise<{ items: GcItem[]; freeableBytes: number; applied: boolean }> {
    await this.caughtUp();
    const host: GcHost = {
      workspace: this.options.workspace,
      runsDir: this.runsDir,
      config: this.options.config,
      finished: this.finished,
      approvals: this.approvals,
      traces: this.traces,
    };
    const items = await planGc(host, now);
    if (apply) await applyGc(host, items);
    const freeableBytes = items.filter((i) => i.freeable).reduce((sum, i) => sum + i.bytes, 0);
    return { items, freeableBytes, applied: apply };
  }

  summary(id: string): Promise<RunSummary> {
    if (this.queue.active.has(id)) return Promise.resolve(this.summaryOfActive(id));
    const known = this.finished.get(id);
    if (known) return Promise.resolve(known);
    return Promise.reject(new ConductorRequestError(`no run "${id}" in this workspace (see "keel runs")`));
  }

  async trace(id: string): Promise<RunTrace> {
    const summary = await this.summary(id);
    const active = this.queue.active.get(id)?.journal.records;
    const file = journalPath(this.runsDir, id);
    if (!active && (await lstat(file).catch(() => null)) === null) {
      throw new ConductorRequestError(
        `run "${id}" (${summary.status}, ${summary.runbook}) has no journal any more: "keel gc" freed it; ` +
          'its summary stays in "keel runs" and "keel report", its steps are gone',
      );
    }
    const records = active ?? (await readJournal(file, this.sealer));
    const run = records[0] as RecordOf<'run'>;
    const runbook = await this.keptRunbook(run).catch(() => null);
    const version = await runbookVersion(run, this.runbooks);
    return traceOf(records, summary, runbook?.steps ?? [], version);
  }

  /** Cancels a queued or running run (and its child runs); a finished one is returned as it is. */
  async cancel(id: string): Promise<RunSummary> {
    const active = this.queue.active.get(id);
    if (!active || active.finishing) return active ? active.done : this.summary(id);
    await this.cancelChildren(id);
    await active.journal.append({
      type: 'cancelRequested',
      reason: 'cancelled by the operator',
      at: new Date().toISOString(),
    });
    active.controller.abort(new Error('cancelled'));
    await this.approvals.withdraw(id);
    if (this.queue.withdraw(id)) {
      await this.complete(id, active, {
        status: 'cancelled',
        outputs: null,
        error: 'cancelled by the operator',
        escalation: null,
      });
    }
    return active.done;
  }

  /**
   * Waits for a run whose end is journaled (and shown) to finish ending: its journal closed, its
   * cassette written, its slot given back. A run under way is left as it is.
   */
  private async ended(id: string): Promise<void> {
    const active = this.queue.active.get(id);
    if (active && currentEnd(active.journal.records)) await active.done;
  }

  /** Cancels the child runs still under way of a run that was cancelled or has ended. */
  private async cancelChildren(parentId: string): Promise<void> {
    const children = [...this.queue.active.entries()].filter(
      ([, run]) => (run.journal.records[0] as RecordOf<'run'>).parent?.runId === parentId,
    );
    for (const [childId] of children) await this.cancel(childId);
  }

  /**
   * Takes an ended run over (see takeover.ts): its journal gets a `takeover` record and it is
   * queued again, going on from `fromStep` with the version of the runbook it kept.
   */
  async takeOver(request: TakeoverRequest): Promise<RunSummary> {
    if (this.stopping)
      throw new ConductorRequestError('the daemon is stopping; take the run over when it is back');
    this.options.trust.require('Taking a run over');
    if (this.governor.stopped)
      throw new ConductorRequestError('the emergency stop is on: nothing goes on until "keel resume"');
    if (this.takingOver.has(request.id))
      throw new ConductorRequestError(`run "${request.id}" is being taken over already`);
    this.takingOver.add(request.id);
    try {
      return await this.takeOverNow(request);
    } finally {
      this.takingOver.delete(request.id);
    }
  }

  private async takeOverNow(request: TakeoverRequest): Promise<RunSummary> {
    await this.ended(request.id);
    const summary = await this.summary(request.id);
    const records = await this.records(request.id);
    const started = records[0] as RecordOf<'run'>;
    const runbook = await this.keptRunbook(started).catch((error: Error) => {
      throw new ConductorRequestError(`the runbook of run ${request.id} cannot be read: ${error.message}`);
    });
    const record = planTakeover(summary, runbook, records, request);
    const journal = await Journal.openExisting(
      journalPath(this.runsDir, request.id),
      this.sealer,
      this.redact,
    );
    this.traces.record(request.id, await journal.append(record));
    this.finished.delete(request.id);
    this.options.log.info('a run was taken over', { run: request.id, from: record.fromStep });
    return this.enqueue(request.id, journal, started.runbookFile ? runbook : null, runbook.steps.length);
  }

  /**
   * The operator's answer to a run waiting at a checkpoint: `stop` cancels the run; `continue`
   * and `edit` resolve once the answer is journaled.
   */
  async answerCheckpoint(
    id: string,
    answer: CheckpointAnswer | { action: 'stop' },
  ): Promise<{ run: RunSummary; stepId: string }> {
    const summary = await this.summary(id);
    if (summary.status !== 'waiting_operator' || !summary.waitingFor) {
      throw new ConductorRequestError(`run "${id}" is ${summary.status}, not waiting at a checkpoint`);
    }
    const stepId = summary.waitingFor;
    if (answer.action !== 'stop') this.options.trust.require('Continuing a run');
    if (!this.queue.active.has(id)) {
      // A daemon that leaves unfinished runs (one `keel` command) takes this one up to answer it.
      this.finished.delete(id);
      await this.recovery.resume(id, await this.records(id));
    }
    if (answer.action === 'stop') return { run: await this.cancel(id), stepId };
    await this.checkpoints.decide(id, stepId, answer);
    return { run: await this.summary(id), stepId };
  }

  /** Re-runs a finished run from its journal: no model calls, no side effects; the first divergence. */
  async replay(
    id: string,
    which: 'recorded' | 'current' = 'recorded',
  ): Promise<ReplayResult & { id: string }> {
    await this.ended(id);
    if (this.queue.active.has(id))
      throw new ConductorRequestError(`run "${id}" has not finished; replay it when it has`);
    await this.summary(id);
    const records = await this.records(id);
    const run = records[0] as RecordOf<'run'>;
    const kept = which === 'recorded' ? recordedRunbook(run) : null;
    const loaded = kept
      ? { runbook: kept, hash: run.runbookHash }
      : await this.runbooks.get(run.runbook).catch((error: Error) => {
          throw new ConductorRequestError(error.message);
        });
    const result = await replayRun({
      records,
      // Only what an agent offers as hand-offs is read: the journal answers every child run.
      children: this.children,
      runbook: loaded.runbook,
      runbookHash: loaded.hash,
      workspace: this.options.workspace,
      models: this.options.config.models,
      memory: await this.options.memory(),
      connectors: this.connectors,
      analytics: this.analytics,
    });
    return { id, ...result };
  }

  /**
   * Runs the runbook's `evals:` cases live against the endpoint (side effects captured, never
   * performed), stores the results, and compares them with the baseline.
   */
  async evaluate(request: {
    runbook: string;
    tier?: string | undefined;
    repeat: number;
    baseline: boolean;
  }): Promise<EvalRun> {
    this.options.trust.require('Running an eval');
    if (this.governor.stopped)
      throw new ConductorRequestError('the emergency stop is on: run "keel resume" before an eval');
    const controller = new AbortController();
    this.evalsUnderWay.add(controller);
    return this.evaluations
      .run({
        workspace: this.options.workspace,
        catalog: this.runbooks,
        models: this.options.config.models,
        memory: await this.options.memory(),
        connectors: this.connectors,
        provider: this.liveProvider(),
        runbook: request.runbook,
        ...(request.tier ? { tier: request.tier } : {}),
        repeat: request.repeat,
        makeBaseline: request.baseline,
        signal: controller.signal,
      })
      .catch((error: Error) => {
        throw error instanceof ConductorRequestError ? error : new ConductorRequestError(error.message);
      })
      .finally(() => this.evalsUnderWay.delete(controller));
  }

  /** The configured endpoint, with the editor's key for its origin and the operator's consent checked per call. */
  private liveProvider(): ModelProvider {
    return providerFor({
      models: this.options.config.models,
      editorKey: (origin) => (this.apiKey?.origin === origin ? this.apiKey.key : null),
      env: this.options.env ?? process.env,
      allows: (endpoint) => this.options.trust.allows(endpoint),
    });
  }

  /** Runs the runbook test cases offline, from their cassettes. */
  async test(runbook?: string): Promise<RunbookTestResult[]> {
    return runRunbookTests({
      workspace: this.options.workspace,
      catalog: this.runbooks,
      models: this.options.config.models,
      memory: await this.options.memory(),
      connectors: this.connectors,
      ...(runbook ? { only: runbook } : {}),
    });
  }

  async records(id: string): Promise<JournalRecord[]> {
    return (
      this.queue.active.get(id)?.journal.records ?? readJournal(journalPath(this.runsDir, id), this.sealer)
    );
  }

  /** The run's first journal record: runbook, inputs, cassette, origin. */
  async runRecord(id: string): Promise<RecordOf<'run'>> {
    await this.summary(id); // an unknown run is named as such, not as a missing file
    return (await this.records(id))[0] as RecordOf<'run'>;
  }

  /**
   * Starts the run's runbook again with the same inputs, through the same approvals: the runbook as
   * its file is now, reading memory as it is now (the point of a re-run after a note changed). An
   * event's run is re-run as an event's run: its inputs stay untrusted content whoever asks.
   */
  async rerun(id: string): Promise<RunSummary> {
    const run = await this.runRecord(id);
    const cassettes = run.replayCassette ? { replay: run.replayCassette } : {};
    const event = run.origin ? { id: newRunId(run.runbook), origin: run.origin } : null;
    return this.startRun(run.runbook, run.inputs, cassettes, event);
  }

  /** Which runs read which version of which note (see TraceStore.retrievals). */
  retrievals(path?: string): ReturnType<TraceStore['retrievals']> {
    return this.traces.retrievals(path);
  }

  /** Model calls as DuckDB has them (for reports and tests). */
  modelCalls(runId?: string): ReturnType<TraceStore['modelCalls']> {
    return this.traces.modelCalls(runId);
  }

  /** Stops every run where it is, leaving it to resume on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.clear();
    const pending = [...this.queue.active.values()];
    for (const run of pending) run.controller.abort(new Error('shutdown'));
    await this.queue.settled();
    for (const run of pending) await run.journal.close().catch(() => undefined);
    for (const controller of this.evalsUnderWay) controller.abort(new Error('shutdown'));
    await this.evaluations.close();
    // However short this daemon's life, the store is left in line with the journals.
    await this.caughtUp();
    await this.traces.close();
  }

  /** The text with every secret the conductor knows replaced by `[redacted]` (alerts use it). */
  readonly redactText = (text: string): string => this.redact(text);

  private readonly redact = (text: string): string => {
    let out = text;
    for (const secret of this.secrets()) out = out.split(secret).join('[redacted]');
    return out;
  };

  private secrets(): string[] {
    const endpoint = this.options.config.models.endpoint;
    const fromEnv = endpoint?.apiKeyEnv ? (this.options.env ?? process.env)[endpoint.apiKeyEnv] : undefined;
    if (fromEnv) this.options.log.redact(fromEnv);
    return [
      ...[this.apiKey?.key, fromEnv].filter((s): s is string => typeof s === 'string' && s.length >= 8),
      // Credentials are refused below MIN_CREDENTIAL_LENGTH, so every one in use is redacted.
      ...this.connectors.credentials(),
    ];
  }

  private enqueue(
    id: string,
    journal: Journal,
    runbook: Runbook | null,
    stepsTotal = runbook?.steps.length ?? 0,
  ): RunSummary {
    let resolve!: (summary: RunSummary) => void;
    const done = new Promise<RunSummary>((r) => (resolve = r));
    const started = journal.records[0] as RecordOf<'run'>;
    const history = new RunHistory(journal.records, 'live', async (record) => {
      // Traced and shown in the journal's order, each once it is durable (or, deferred, once the
      // synced line before it is): a step's start is not shown before the end before it.
      await journal.append(record, (stored) => {
        this.traces.record(id, stored);
        // Watchers see the run move: a step's progress at most every PROGRESS_MS, the rest at once.
        this.progress.recorded(id, stored.type);
      });
      // A run waiting for the operator may wait long: its cassette so far is written now.
      if (record.type === 'waiting' && started.recordCassette) await this.saveCassette(id, journal);
    });
    this.queue.add(id, {
      journal,
      history,
      controller: new AbortController(),
      stepsTotal,
      runbook,
      state: 'queued',
      slot: false,
      wake: null,
      finishing: false,
      done,
      resolve,
    });
    const summary = this.changed(id);
    this.queue.pump();
    return summary;
  }

  private async execute(id: string, run: ActiveRun): Promise<void> {
    const records = run.journal.records;
    const started = records[0] as RecordOf<'run'>;
    let result;
    // The version the run started with; a journal from before Keel kept it runs the file.
    const loaded = run.runbook
      ? { runbook: run.runbook }
      : await this.keptRunbook(started).then(
          (runbook) => ({ runbook }),
          (error: Error) => error,
        );
    if (loaded instanceof Error && records.length > 1 && !started.runbookFile) {
      // A run under way whose runbook does not parse now (being edited): held, not failed; it
      // goes on when the file is fixed.
      this.options.log.error('a run waits for its runbook to be fixed', { run: id, problem: loaded.message });
      run.state = 'queued';
      this.queue.hold(id);
      this.changed(id);
      return;
    }
    try {
      if (loaded instanceof Error) throw loaded;
      const cassette = started.replayCassette
        ? await CassetteProvider.load(this.options.workspace, started.replayCassette, started.cassetteScope)
        : null;
      result = await executeRun({
        runId: id,
        runbook: loaded.runbook,
        evals: (name, tiers) => this.evaluations.latest(name, tiers),
        workspace: this.options.workspace,
        history: run.history,
        models: this.options.config.models,
        provider: cassette ?? this.liveProvider(),
        memory: cassette
          ? cassetteMemory(cassette, await this.options.memory())
          : await this.options.memory(),
        approvals: this.approvals,
        connectors: this.connectors,
        analytics: this.analytics,
        children: this.children,
        checkpoints: this.checkpoints,
        feedback: await latestFeedback(
          this.options.workspace,
          feedbackPath(this.options.config.memory.dir, loaded.runbook.name),
        ),
        breaker: started.replayCassette
          ? null
          : this.options.config.models.endpoint
            ? this.governor.endpointBreaker(this.options.config.models.endpoint.baseUrl)
            : null,
        signal: run.controller.signal,
        slot: this.queue.slotOf(id, run),
        parallelSteps: this.options.config.runbooks.parallelSteps,
      });
    } catch (error) {
      result = {
        status: 'failed' as const,
        outputs: null,
        error: (error as Error).message,
        escalation: null,
      };
    }
    const interrupted = result.status === 'cancelled' && !run.history.cancelRequested();
    if (interrupted && this.stopping) {
      // Interrupted by shutdown, not by the operator: no end record, so the next start resumes it.
      run.resolve(this.summaryOfActive(id));
      return;
    }
    if (interrupted && (this.governor.stopped || !this.options.trust.trusted)) {
      // Halted by the emergency stop or by trust taken back: back in the queue, to go on from
      // its journal on resume or once trusted again.
      run.controller = new AbortController();
      run.state = 'queued';
      this.queue.putFirst(id);
      this.changed(id);
      return;
    }
    await this.complete(id, run, result);
  }

  private async complete(
    id: string,
    run: ActiveRun,
    result: {
      status: RecordOf<'runEnd'>['status'];
      outputs: Record<string, unknown> | null;
      error: string | null;
      escalation: string | null;
    },
  ): Promise<void> {
    run.finishing = true;
    await run.journal.append({ type: 'runEnd', ...result, at: new Date().toISOString() });
    await this.saveCassette(id, run.journal);
    await run.journal.close();
    const summary = summarize(run.journal.records, run.stepsTotal, null);
    this.governor.runFinished(summary);
    // A proposal made while the cancel was under way is withdrawn too.
    if (summary.status === 'cancelled') await this.approvals.withdraw(id);
    this.queue.remove(id);
    this.finished.set(id, summary);
    this.publish(summary);
    run.resolve(summary);
    // A child run outlives no parent: one ended by a parallel step's failure is stopped too.
    await this.cancelChildren(id);
  }

  /**
   * The runbook a run keeps: the version its journal holds, or for a journal from before Keel
   * kept it, the file as it is now. Throws when neither reads.
   */
  private async keptRunbook(run: RecordOf<'run'>): Promise<Runbook> {
    return recordedRunbook(run) ?? (await this.runbooks.get(run.runbook)).runbook;
  }

  private async saveCassette(id: string, journal: Journal): Promise<void> {
    const started = journal.records[0] as RecordOf<'run'>;
    if (!started.recordCassette) return;
    try {
      const children = await this.childRecords(journal.records, '');
      await writeCassette(this.options.workspace, started.recordCassette, journal.records, children);
    } catch (error) {
      this.options.log.error('writing the cassette failed', { run: id, error });
    }
  }

  /** The journals of a run's child runs (and theirs), each with its part of the cassette. */
  private async childRecords(records: readonly JournalRecord[], within: string): Promise<ChildRecords[]> {
    const found: ChildRecords[] = [];
    for (const record of records) {
      if (record.type !== 'child') continue;
      const child = await this.records(record.runId).catch(() => null);
      if (!child) continue;
      const scope = within ? `${within}/${record.scope.split('/').at(-1)}` : record.scope;
      found.push({ scope, records: child }, ...(await this.childRecords(child, scope)));
    }
    return found;
  }

  private summaryOfActive(id: string): RunSummary {
    const run = this.queue.active.get(id)!;
    return summarize(run.journal.records, run.stepsTotal, run.state);
  }

  private changed(id: string): RunSummary {
    const summary = this.summaryOfActive(id);
    this.publish(summary);
    return summary;
  }

  private publish(summary: RunSummary): void {
    this.progress.published(summary.id, summary.endedAt !== null);
    this.traces.saveRun(summary);
    this.options.onRunChanged(summary);
  }
}

function workspaceRelativeOrRefuse(path: string): string {
  try {
    return workspaceRelative(path);
  } catch (error) {
    throw new ConductorRequestError((error as Error).message);
  }
}

/** Sortable by start time, readable, unique: `20261125-085500-onboarding-1a2b3c`. */
/** The event that starts a run, and the trigger (its id) it starts it for. */
export interface EventOrigin {
  type: 'event';
  event: string;
  connector: string;
  eventId: string;
  trigger: string;
}

/** One id per trigger and event: the same event never starts a second run for the same trigger. */
export function eventRunId(runbook: string, origin: EventOrigin): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([origin.trigger, origin.connector, origin.event, origin.eventId]))
    .digest('hex')
    .slice(0, 16);
  return `${runbook}-event-${hash}`;
}

function newRunId(runbook: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${runbook}-${randomBytes(3).toString('hex')}`;
}
