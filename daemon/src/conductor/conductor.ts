/**
 * The conductor: the one scheduler of runs in a workspace. It queues runs (a concurrency limit),
 * executes them from their journals, resumes every unfinished run when the daemon starts, and
 * tells clients as runs change. Runs hold no state outside their journals.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  ControlState,
  Proposal,
  Runbook,
  RunbookInfo,
  RunbookTestResult,
  RunSummary,
  RunTrace,
  TrustEndpoint,
  WorkspaceConfig,
} from '@keel/schemas';
import { ApprovalService } from '../approvals/approvalService';
import { Governor } from '../governance/governor';
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
import { quarantine, StateSeal } from '../runtime/stateKey';
import { writeCassette } from './cassettes';
import {
  Journal,
  JournalCorruptError,
  JournalForgedError,
  journalIds,
  journalPath,
  readJournal,
} from './journal';
import type { JournalRecord, RecordOf } from './journalRecords';
import { providerFor } from './models/providers';
import { checkInputs, type InputValues } from './runInputs';
import { RunbookCatalog } from './runbookCatalog';
import { recordedRunbook, runbookVersion } from './runbookVersion';
import { executeRun } from './runExecutor';
import { RunHistory } from './runHistory';
import { replayRun, type ReplayResult } from './replay';
import { runRunbookTests } from './runbookTests';
import { summarize, traceOf } from './runTrace';
import type { MemoryAccess } from './steps/stepRuntime';
import { warmTemplates } from './templates';
import { TraceStore } from './traceStore';

export interface ConductorOptions {
  workspace: string;
  log: Logger;
  config: WorkspaceConfig;
  /** Take up unfinished runs now (the long-lived daemon); a one-command daemon leaves them. */
  resume: boolean;
  memory: () => Promise<MemoryAccess>;
  onRunChanged: (summary: RunSummary) => void;
  onApprovalChanged?: (proposal: Proposal, pending: number) => void;
  onControlChanged?: (state: ControlState) => void;
  env?: NodeJS.ProcessEnv;
  /** The operator's consent: nothing starts, resumes or is sent without it. */
  trust: ConductorTrust;
}

/** What the conductor asks of workspace trust (see trust/workspaceTrust.ts). */
export interface ConductorTrust {
  readonly trusted: boolean;
  allows(endpoint: TrustEndpoint): boolean;
  /** Throws `NotTrusted` (naming what the workspace wants) unless the workspace is trusted. */
  require(what: string): void;
}

interface ActiveRun {
  journal: Journal;
  /** What happened so far, built once from the journal; every record of the run goes through it. */
  history: RunHistory;
  /** Replaced when a run halted by the emergency stop is queued again. */
  controller: AbortController;
  stepsTotal: number;
  /** The runbook the run keeps (its journal's); null for a journal from before Keel kept it. */
  runbook: Runbook | null;
  /** `running` while it holds a slot; a run waiting for the operator shows as its journal says. */
  state: 'queued' | 'running';
  /** Holds one of the `concurrency` slots (see `running`). */
  slot: boolean;
  /** Set while its execution, decided, is queued for a slot again: pump calls it to hand one over. */
  wake: (() => void) | null;
  /** Its end is being written: too late to cancel. */
  finishing: boolean;
  done: Promise<RunSummary>;
  resolve: (summary: RunSummary) => void;
}

/** Raised for a request the operator can fix: an unknown runbook, a missing input. */
export class ConductorRequestError extends OperatorError {}

export class Conductor {
  runbooks: RunbookCatalog;
  private readonly active = new Map<string, ActiveRun>();
  private readonly finished = new Map<string, RunSummary>();
  private readonly queue: string[] = [];
  private stopping = false;
  /** The editor's key and the endpoint origin it was stored for: sent nowhere else. */
  private apiKey: { key: string; origin: string } | null = null;
  /** Unfinished runs of an untrusted workspace: listed, resumed only once the operator trusts it. */
  private readonly dormant = new Set<string>();
  /** Whether the workspace was trusted when last looked at (opened, or trust changed). */
  private wasTrusted: boolean;
  /** Each runbook's role, for quotas set per role. */
  private readonly roles = new Map<string, string>();
  /** Runs under way whose runbook does not parse: they wait for the file to be fixed. */
  private readonly held = new Set<string>();
  /** Runs executing now, by id: what an emergency stop waits for. */
  private readonly executing = new Map<string, Promise<void>>();
  private governor!: Governor;
  /** Seals every journal line this conductor writes, and checks those it reads. */
  private readonly sealer: StateSeal;

  private constructor(
    private readonly options: ConductorOptions,
    private readonly traces: TraceStore,
    private readonly runsDir: string,
    /** Proposed changes and the operator's decisions on them. */
    readonly approvals: ApprovalService,
  ) {
    this.runbooks = new RunbookCatalog(options.workspace, options.config.runbooks.dir);
    this.sealer = new StateSeal(options.workspace);
    this.wasTrusted = options.trust.trusted;
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
    const traces = await TraceStore.open(join(keelDir, 'runs.duckdb'), (m) => options.log.warn(m));
    const approvals = await ApprovalService.open({
      workspace: options.workspace,
      config: options.config,
      log: options.log,
      trusted: () => options.trust.trusted,
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
    });
    await conductor.load();
    return conductor;
  }

  /** Applies a new keel.yaml: models and limits for the next calls, the runbooks folder. */
  configure(config: WorkspaceConfig): void {
    if (config.runbooks.dir !== this.options.config.runbooks.dir) {
      this.runbooks = new RunbookCatalog(this.options.workspace, config.runbooks.dir);
    }
    this.options.config = config;
    this.approvals.configure(config);
    this.pump();
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
      for (const id of this.executing.keys()) this.active.get(id)?.controller.abort(new Error('halt'));
      await Promise.all(this.executing.values());
      this.options.log.warn('trust taken back: every run halted until the workspace is trusted again');
      return;
    }
    if (!rising) return;
    this.pump();
    await this.approvals.finishInterrupted();
    const dormant = [...this.dormant];
    this.dormant.clear();
    for (const id of dormant) {
      const records = await readJournal(journalPath(this.runsDir, id), this.sealer).catch(() => null);
      if (!records) continue;
      this.finished.delete(id);
      await this.resumeJournal(id, records);
    }
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
    for (const id of this.executing.keys()) this.active.get(id)?.controller.abort(new Error('halt'));
    await Promise.all(this.executing.values());
    this.options.log.warn('emergency stop: every run halted', { reason: reason ?? 'none given' });
    return this.governor.state();
  }

  async resume(): Promise<ControlState> {
    await this.governor.resume();
    this.options.log.info('emergency stop lifted: halted runs go on');
    this.pump();
    return this.governor.state();
  }

  /** A runbook file changed: runs held for a broken runbook try again. */
  retryHeld(): void {
    for (const id of this.held) if (this.active.has(id)) this.queue.push(id);
    this.held.clear();
    this.pump();
  }

  controlState(): ControlState {
    return this.governor.state();
  }

  async metrics(span: { since?: string | undefined; until?: string | undefined }): Promise<MetricsReport> {
    await this.listRunbooks().catch(() => undefined);
    try {
      return await metricsReport(this.traces, (runbook) => this.roles.get(runbook) ?? null, span);
    } catch (error) {
      throw new ConductorRequestError((error as Error).message);
    }
  }

  /** Queues a run; answers with its summary at once. */
  async start(
    runbookName: string,
    inputs: InputValues,
    cassettes: { record?: string | undefined; replay?: string | undefined } = {},
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
    // Last, after every other check: admitting can take a half-open breaker's one trial.
    try {
      this.governor.admit(loaded.runbook.name, loaded.runbook.role);
    } catch (error) {
      throw new ConductorRequestError((error as Error).message);
    }
    const id = newRunId(loaded.runbook.name);
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
        at: new Date().toISOString(),
      },
      this.sealer,
      this.redact,
    );
    return this.enqueue(id, journal, loaded.runbook);
  }

  /** Resolves when the run has finished (or at once for a finished run). */
  async wait(id: string): Promise<RunSummary> {
    const active = this.active.get(id);
    if (active) return active.done;
    return this.summary(id);
  }

  list(limit: number, runbook?: string): RunSummary[] {
    const all = [
      ...this.finished.values(),
      ...[...this.active.entries()].map(([id]) => this.summaryOfActive(id)),
    ];
    return all
      .filter((run) => !runbook || run.runbook === runbook)
      .sort((a, b) =>
        a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id),
      )
      .slice(0, limit);
  }

  summary(id: string): Promise<RunSummary> {
    if (this.active.has(id)) return Promise.resolve(this.summaryOfActive(id));
    const known = this.finished.get(id);
    if (known) return Promise.resolve(known);
    return Promise.reject(new ConductorRequestError(`no run "${id}" in this workspace (see "keel runs")`));
  }

  async trace(id: string): Promise<RunTrace> {
    const summary = await this.summary(id);
    const records =
      this.active.get(id)?.journal.records ?? (await readJournal(journalPath(this.runsDir, id), this.sealer));
    const run = records[0] as RecordOf<'run'>;
    const runbook = await this.keptRunbook(run).catch(() => null);
    const version = await runbookVersion(run, this.runbooks);
    return traceOf(records, summary, runbook?.steps.map((s) => s.id) ?? [], version);
  }

  /** Cancels a queued or running run; a finished one is returned as it is. */
  async cancel(id: string): Promise<RunSummary> {
    const active = this.active.get(id);
    if (!active || active.finishing) return active ? active.done : this.summary(id);
    await active.journal.append({
      type: 'cancelRequested',
      reason: 'cancelled by the operator',
      at: new Date().toISOString(),
    });
    active.controller.abort(new Error('cancelled'));
    await this.approvals.withdraw(id);
    const queued = this.queue.indexOf(id);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      await this.complete(id, active, {
        status: 'cancelled',
        outputs: null,
        error: 'cancelled by the operator',
        escalation: null,
      });
    }
    return active.done;
  }

  /** Re-runs a finished run from its journal: no model calls, no side effects; the first divergence. */
  async replay(
    id: string,
    which: 'recorded' | 'current' = 'recorded',
  ): Promise<ReplayResult & { id: string }> {
    if (this.active.has(id))
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
      runbook: loaded.runbook,
      runbookHash: loaded.hash,
      workspace: this.options.workspace,
      models: this.options.config.models,
      memory: await this.options.memory(),
    });
    return { id, ...result };
  }

  /** Runs the runbook test cases offline, from their cassettes. */
  async test(runbook?: string): Promise<RunbookTestResult[]> {
    return runRunbookTests({
      workspace: this.options.workspace,
      catalog: this.runbooks,
      models: this.options.config.models,
      memory: await this.options.memory(),
      ...(runbook ? { only: runbook } : {}),
    });
  }

  async records(id: string): Promise<JournalRecord[]> {
    return this.active.get(id)?.journal.records ?? readJournal(journalPath(this.runsDir, id), this.sealer);
  }

  /** Model calls as DuckDB has them (for reports and tests). */
  modelCalls(runId?: string): ReturnType<TraceStore['modelCalls']> {
    return this.traces.modelCalls(runId);
  }

  /** Stops every run where it is, leaving it to resume on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    const pending = [...this.active.values()];
    for (const run of pending) run.controller.abort(new Error('shutdown'));
    await Promise.all(this.executing.values());
    for (const run of pending) await run.journal.close().catch(() => undefined);
    await this.traces.close();
  }

  private readonly redact = (text: string): string => {
    let out = text;
    for (const secret of this.secrets()) out = out.split(secret).join('[redacted]');
    return out;
  };

  private secrets(): string[] {
    const endpoint = this.options.config.models.endpoint;
    const fromEnv = endpoint?.apiKeyEnv ? (this.options.env ?? process.env)[endpoint.apiKeyEnv] : undefined;
    if (fromEnv) this.options.log.redact(fromEnv);
    return [this.apiKey?.key, fromEnv].filter((s): s is string => typeof s === 'string' && s.length >= 8);
  }

  /** Reads every journal: finished runs are listed, unfinished ones resumed. */
  private async load(): Promise<void> {
    const counts = await this.traces.modelCallCounts();
    for (const id of await journalIds(this.runsDir)) {
      const path = journalPath(this.runsDir, id);
      let records: JournalRecord[];
      try {
        records = await readJournal(path, this.sealer);
      } catch (error) {
        if (error instanceof JournalForgedError) {
          // Keel did not write this journal as it is: it is never resumed, replayed or listed.
          const moved = await quarantine(
            this.options.workspace,
            path,
            `Not a run journal Keel wrote: ${error.message}`,
          );
          this.options.log.warn(
            `${path} was not resumed: ${error.message}. It was moved to ${moved ?? 'quarantine'}; ` +
              'a forged or edited journal never runs. Delete it once you have looked at it.',
          );
          continue;
        }
        if (error instanceof JournalCorruptError && /does not start with a run record/.test(error.message)) {
          // Killed while creating the journal: the run was never started (its start was never answered).
          await rm(path, { force: true });
          continue;
        }
        this.options.log.error('a run journal cannot be read; the run is left as it is', { path, error });
        continue;
      }
      const run = records[0] as RecordOf<'run'>;
      const modelCalls = records.filter((r) => r.type === 'modelCall').length;
      if ((counts.get(id) ?? 0) !== modelCalls) this.traces.reload(id, records);
      const runbook = await this.keptRunbook(run).catch(() => null);
      if (runbook) this.roles.set(runbook.name, runbook.role);
      const stepsTotal = runbook?.steps.length ?? 0;
      if (records.some((r) => r.type === 'runEnd')) {
        const summary = summarize(records, stepsTotal, null);
        this.finished.set(id, summary);
        this.traces.saveRun(summary);
        continue;
      }
      if (!this.options.resume || !this.options.trust.trusted) {
        this.finished.set(id, summarize(records, stepsTotal, null));
        if (this.options.resume) {
          this.dormant.add(id);
          this.options.log.warn('an unfinished run waits for your trust in the workspace to resume', {
            run: id,
          });
        }
        continue;
      }
      await this.resumeJournal(id, records);
    }
  }

  /** Takes up an unfinished run from its journal (ends it if the operator had cancelled it). */
  private async resumeJournal(id: string, records: JournalRecord[]): Promise<void> {
    const path = journalPath(this.runsDir, id);
    const run = records[0] as RecordOf<'run'>;
    const runbook = await this.keptRunbook(run).catch(() => null);
    const stepsTotal = runbook?.steps.length ?? 0;
    const journal = await Journal.openExisting(path, this.sealer, this.redact);
    if (records.some((r) => r.type === 'cancelRequested')) {
      // Cancelled, then stopped before its end was written: it ends cancelled, never goes on.
      await journal.append({
        type: 'runEnd',
        status: 'cancelled',
        outputs: null,
        error: 'cancelled by the operator',
        escalation: null,
        at: new Date().toISOString(),
      });
      await journal.close();
      this.finished.set(id, summarize(journal.records, stepsTotal, null));
      await this.approvals.withdraw(id);
      return;
    }
    await journal.append({ type: 'resume', at: new Date().toISOString() });
    this.options.log.info('resuming a run', { run: id, runbook: run.runbook });
    void this.enqueue(id, journal, run.runbookFile ? runbook : null, stepsTotal);
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
      await journal.append(record);
      this.traces.record(id, journal.records.at(-1)!);
      // A run waiting for the operator may wait long: its cassette so far is written now.
      if (record.type === 'waiting' && started.recordCassette) await this.saveCassette(id, journal);
      // Watchers see the run move record by record.
      this.changed(id);
    });
    this.active.set(id, {
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
    this.queue.push(id);
    const summary = this.changed(id);
    this.pump();
    return summary;
  }

  /**
   * Slot accounting: `runbooks.concurrency` slots, held by the runs whose `slot` is set. pump hands
   * free slots out in queue order, to a new (or resumed) run, which starts executing, or to a run
   * whose execution waits for a slot again. A run gives its slot up while it waits for the
   * operator (releaseSlot, right after its `waiting` record), so pending approvals stop no other
   * run; once the decision is journaled it joins the back of the queue (acquireSlot) and goes on
   * when its turn comes. An execution that ends frees the slot it holds. Slots are never written
   * down: after a restart a waiting run resumes from its journal like any run, takes a slot,
   * reaches its proposal again and gives the slot up.
   */
  private get running(): number {
    let holding = 0;
    for (const run of this.active.values()) if (run.slot) holding++;
    return holding;
  }

  private pump(): void {
    while (
      !this.stopping &&
      !this.governor.stopped &&
      this.options.trust.trusted &&
      this.running < this.options.config.runbooks.concurrency &&
      this.queue.length > 0
    ) {
      const id = this.queue.shift()!;
      const run = this.active.get(id);
      if (!run) continue;
      run.state = 'running';
      run.slot = true;
      this.changed(id);
      const wake = run.wake;
      run.wake = null;
      if (wake) {
        wake();
        continue;
      }
      const execution = this.execute(id, run)
        .catch((error: unknown) => this.options.log.error('a run crashed the conductor', { run: id, error }))
        .finally(() => {
          this.executing.delete(id);
          run.slot = false;
          this.pump();
        });
      this.executing.set(id, execution);
    }
  }

  private releaseSlot(id: string, run: ActiveRun): void {
    run.slot = false;
    run.state = 'queued';
    this.changed(id);
    this.pump();
  }

  /** Queues an executing run for a slot; rejects if the run is cancelled or halted meanwhile. */
  private acquireSlot(id: string, run: ActiveRun): Promise<void> {
    const signal = run.controller.signal;
    if (signal.aborted) return Promise.reject(new Error('stopped waiting for a slot'));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        run.wake = null;
        const queued = this.queue.indexOf(id);
        if (queued >= 0) this.queue.splice(queued, 1);
        reject(new Error('stopped waiting for a slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      run.wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      run.state = 'queued';
      this.queue.push(id);
      this.changed(id);
      this.pump();
    });
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
      this.held.add(id);
      this.changed(id);
      return;
    }
    try {
      if (loaded instanceof Error) throw loaded;
      const cassette = started.replayCassette
        ? await CassetteProvider.load(this.options.workspace, started.replayCassette)
        : null;
      result = await executeRun({
        runId: id,
        runbook: loaded.runbook,
        workspace: this.options.workspace,
        history: run.history,
        models: this.options.config.models,
        provider:
          cassette ??
          providerFor({
            models: this.options.config.models,
            editorKey: (origin) => (this.apiKey?.origin === origin ? this.apiKey.key : null),
            env: this.options.env ?? process.env,
            allows: (endpoint) => this.options.trust.allows(endpoint),
          }),
        memory: cassette
          ? cassetteMemory(cassette, await this.options.memory())
          : await this.options.memory(),
        approvals: this.approvals,
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
        slot: { release: () => this.releaseSlot(id, run), acquire: () => this.acquireSlot(id, run) },
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
      this.queue.unshift(id);
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
    this.active.delete(id);
    this.finished.set(id, summary);
    this.publish(summary);
    run.resolve(summary);
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
    await writeCassette(this.options.workspace, started.recordCassette, journal.records).catch(
      (error: unknown) => this.options.log.error('writing the cassette failed', { run: id, error }),
    );
  }

  private summaryOfActive(id: string): RunSummary {
    const run = this.active.get(id)!;
    return summarize(run.journal.records, run.stepsTotal, run.state);
  }

  private changed(id: string): RunSummary {
    const summary = this.summaryOfActive(id);
    this.publish(summary);
    return summary;
  }

  private publish(summary: RunSummary): void {
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
function newRunId(runbook: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${runbook}-${randomBytes(3).toString('hex')}`;
}
