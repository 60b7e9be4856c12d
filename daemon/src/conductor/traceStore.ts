/**
 * Runs, steps and model calls in DuckDB (`.keel/runs.duckdb`), for reports and metrics. The
 * journals are the source of truth and carry the durability: this store is a projection of them,
 * filled in batches (one transaction every FLUSH_MS, or at once past MAX_BATCH) and caught up from
 * them at start-up when it is missing, damaged or behind. Every read sees every write made before it.
 */
import { rm } from 'node:fs/promises';
import type { DuckDBInstance, DuckDBConnection } from '@duckdb/node-api';
import type { Proposal, RunSummary } from '@keel/schemas';
import { DUCKDB_LOCKED_DOWN } from '../memory/store/catalog';
import { duckdb } from '../runtime/duckdb';
import type { JournalRecord } from './journalRecords';
import { TraceBatch } from './traceBatch';

/** How long a trace row waits for others to share its transaction (a run's steps, several runs). */
const FLUSH_MS = 1_000;
/** Records and summaries a batch takes before it is written at once: what a stop drains is bounded. */
const MAX_BATCH = 2_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id VARCHAR PRIMARY KEY, runbook VARCHAR, status VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
  cost_usd DOUBLE, tokens BIGINT, steps_done INTEGER, error VARCHAR);
CREATE TABLE IF NOT EXISTS steps (
  run_id VARCHAR, step_id VARCHAR, step_type VARCHAR, status VARCHAR, started_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ, error VARCHAR);
CREATE TABLE IF NOT EXISTS approvals (
  id VARCHAR PRIMARY KEY, run_id VARCHAR, runbook VARCHAR, status VARCHAR, decision VARCHAR,
  created_at TIMESTAMPTZ, decided_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS model_calls (
  run_id VARCHAR, step_id VARCHAR, call INTEGER, attempt INTEGER, tier VARCHAR, model VARCHAR,
  latency_ms DOUBLE, input_tokens BIGINT, output_tokens BIGINT, cost_usd DOUBLE, outcome VARCHAR,
  called_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS actions (
  run_id VARCHAR, key VARCHAR, step_id VARCHAR, connector VARCHAR, action VARCHAR, undoes VARCHAR,
  status VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, error VARCHAR);
CREATE TABLE IF NOT EXISTS retrievals (
  run_id VARCHAR, step_id VARCHAR, path VARCHAR, blob VARCHAR, read_at TIMESTAMPTZ);
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS connector VARCHAR;
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS lesson BOOLEAN;
CREATE TABLE IF NOT EXISTS archived_runs (id VARCHAR PRIMARY KEY, summary VARCHAR, archived_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS refusals (
  runbook VARCHAR, agent VARCHAR, period VARCHAR, forecast_usd DOUBLE, refused_at TIMESTAMPTZ);
`;

/** The tables a `query` step reads a copy of, as `keel.<table>`. */
export type MetricsTable = 'runs' | 'steps' | 'approvals' | 'model_calls' | 'actions';

export interface AgentRow {
  runbook: string;
  runs: number;
  succeeded: number;
  failed: number;
  finished: number;
  p50Ms: number | null;
  p95Ms: number | null;
  costUsd: number;
  tokens: number;
  approved: number;
  edited: number;
  rejected: number;
  /** Applied by a keel.yaml rule, not reviewed by the operator. */
  policy: number;
}

export interface ConnectorRow {
  connector: string;
  actions: number;
  succeeded: number;
  failed: number;
  open: number;
  undos: number;
  approved: number;
  edited: number;
  rejected: number;
}

export interface LessonRow {
  runbook: string;
  firstLesson: string;
  before: number;
  reworkBefore: number;
  after: number;
  reworkAfter: number;
}

/** What the store holds of one run, compared with its journal at start-up (see Recovery). */
export interface RunRowCounts {
  steps: number;
  ended: number;
  modelCalls: number;
  /** Connector calls, and those settled (done or failed). */
  actions: number;
  settled: number;
  /** Notes read (see retrievalRows). */
  retrievals: number;
}

/** A run's reads of one version of one note (see `retrievals`). */
/** A run a spend quota refused (see `recordRefusal`). */
export interface RefusalRow {
  runbook: string;
  /** The quota's agent: the runbook or its role. */
  agent: string;
  period: 'day' | 'month';
  forecastUsd: number;
  at: string;
}

export interface RetrievalUse {
  runId: string;
  path: string;
  /** git's blob id of what the run read; null when it was not known. */
  blob: string | null;
  /** When the run last read it (ISO time). */
  at: string;
  steps: string[];
}

export interface ModelCallRow {
  runId: string;
  stepId: string;
  tier: string;
  model: string;
  attempt: number;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  outcome: string;
}

export class TraceStore {
  /** DuckDB's line: one connection must never run two statements at once (it crashes the process). */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** Rows not yet written, and the timer or queued flush that will write them. */
  private batch = new TraceBatch();
  private timer: NodeJS.Timeout | null = null;
  private flushQueued = false;
  /** Whether DuckDB's opening is queued yet (see `opening`). */
  private openQueued = false;
  /** Set once DuckDB is open; null before, and for good when it could not be opened. */
  private instance: DuckDBInstance | null = null;
  private connection: DuckDBConnection | null = null;
  /** Why DuckDB could not be opened, once that is known. */
  private failure: Error | null = null;

  private constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** Opens the store; a damaged file is deleted and created again (the journals refill it). */
  static async open(file: string, warn: (message: string) => void): Promise<TraceStore> {
    const store = TraceStore.opening(file, warn);
    await store.whenOpen();
    if (store.failure) throw store.failure;
    return store;
  }

  /**
   * The store at once, DuckDB opened at its first read or write: loading and opening it (60-250
   * ms) is not paid before a run's first step, whose records and summaries only join a batch
   * (issue 14). Reads wait for it; when it cannot be opened they fail with the reason and batches
   * are dropped (the journals keep every record, and the next start fills the store from them).
   */
  static opening(file: string, warn: (message: string) => void): TraceStore {
    return new TraceStore(file, warn);
  }

  /** Resolves once DuckDB is open, or could not be (then `failure` says why); opens it if need be. */
  private whenOpen(): Promise<void> {
    if (!this.openQueued) {
      this.openQueued = true;
      this.queue = this.queue.then(() => this.openNow());
    }
    return this.queue;
  }

  private async openNow(): Promise<void> {
    const { file, warn } = this;
    try {
      // DuckDB's binding that cannot load says nothing about the file: it is not rebuilt for it.
      duckdb();
      let opened: { instance: DuckDBInstance; db: DuckDBConnection };
      try {
        opened = await TraceStore.create(file);
      } catch (error) {
        warn(`${file} is damaged (${(error as Error).message}); rebuilding it from the run journals`);
        await rm(file, { force: true });
        await rm(`${file}.wal`, { force: true });
        opened = await TraceStore.create(file);
      }
      this.instance = opened.instance;
      this.connection = opened.db;
    } catch (error) {
      this.failure = error as Error;
      warn(`the run store cannot be opened (${this.failure.message}); runs go on, reports cannot be made`);
    }
  }

  private static async create(file: string): Promise<{ instance: DuckDBInstance; db: DuckDBConnection }> {
    const instance = await duckdb().DuckDBInstance.create(file, {
      memory_limit: '32MB',
      threads: '1',
      ...DUCKDB_LOCKED_DOWN,
    });
    const db = await instance.connect();
    await db.run(SCHEMA);
    await dropActionsKey(db);
    return { instance, db };
  }

  /** The open connection, inside the queue (a failed open fails the query with its reason). */
  private get db(): DuckDBConnection {
    if (this.connection) return this.connection;
    throw new Error(`the run store is not open: ${this.failure?.message ?? 'still opening'}`);
  }

  /** Records one journal record of a run; it is written with its batch and never blocks the run. */
  record(runId: string, record: JournalRecord): void {
    if (this.closed) return;
    this.batch.record(runId, record);
    this.written();
  }

  /** Records a run's current summary (nothing once the store is closed: DuckDB would crash). */
  saveRun(summary: RunSummary): void {
    if (this.closed) return;
    this.batch.saveRun(summary);
    this.written();
  }

  /** Records a proposal's current state (for rework rates). */
  saveApproval(proposal: Proposal): void {
    if (this.closed) return;
    this.batch.saveApproval(proposal);
    this.written();
  }

  /** Per runbook over [since, until): run counts, duration percentiles, spend, approval decisions. */
  agentMetrics(since: string, until: string): Promise<AgentRow[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `WITH r AS (
           SELECT * FROM runs WHERE started_at >= $1::TIMESTAMPTZ AND started_at < $2::TIMESTAMPTZ),
         a AS (
           SELECT runbook,
                  count(*) FILTER (WHERE decision = 'approved') AS approved,
                  count(*) FILTER (WHERE decision = 'edited') AS edited,
                  count(*) FILTER (WHERE decision = 'rejected') AS rejected,
                  count(*) FILTER (WHERE decision = 'policy') AS policy
           FROM approvals WHERE decided_at >= $1::TIMESTAMPTZ AND decided_at < $2::TIMESTAMPTZ GROUP BY runbook)
         SELECT coalesce(r.runbook, a.runbook) AS runbook,
                count(r.id) AS runs,
                count(r.id) FILTER (WHERE r.status = 'succeeded') AS succeeded,
                count(r.id) FILTER (WHERE r.status IN ('failed', 'budget_exceeded')) AS failed,
                count(r.id) FILTER (WHERE r.ended_at IS NOT NULL) AS finished,
                quantile_cont(epoch_ms(r.ended_at) - epoch_ms(r.started_at), 0.5) AS p50,
                quantile_cont(epoch_ms(r.ended_at) - epoch_ms(r.started_at), 0.95) AS p95,
                coalesce(sum(r.cost_usd), 0) AS cost, coalesce(sum(r.tokens), 0) AS tokens,
                any_value(a.approved) AS approved, any_value(a.edited) AS edited, any_value(a.rejected) AS rejected,
                any_value(a.policy) AS policy
         FROM r FULL OUTER JOIN a ON r.runbook = a.runbook
         GROUP BY coalesce(r.runbook, a.runbook) ORDER BY 1`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runbook: text(row.runbook),
        runs: Number(row.runs),
        succeeded: Number(row.succeeded),
        failed: Number(row.failed),
        finished: Number(row.finished),
        p50Ms: row.p50 === null ? null : Number(row.p50),
        p95Ms: row.p95 === null ? null : Number(row.p95),
        costUsd: Number(row.cost),
        tokens: Number(row.tokens),
        approved: Number(row.approved ?? 0),
        edited: Number(row.edited ?? 0),
        rejected: Number(row.rejected ?? 0),
        policy: Number(row.policy ?? 0),
      }));
    });
  }

  /**
   * Per connector over [since, until): calls started in the span by how they ended, undos, and
   * the operator's decisions on its action proposals. A built-in's id (`fs.outbox@1`) counts under
   * the name runbooks give it; Keel's own record of a proposal (`keel.approvals`) is no connector.
   */
  connectorMetrics(since: string, until: string): Promise<ConnectorRow[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `WITH c AS (
           SELECT regexp_replace(connector, '@[0-9]+$', '') AS connector,
                  count(*) FILTER (WHERE undoes IS NULL) AS actions,
                  count(*) FILTER (WHERE undoes IS NULL AND status = 'done') AS succeeded,
                  count(*) FILTER (WHERE undoes IS NULL AND status = 'failed') AS failed,
                  count(*) FILTER (WHERE undoes IS NULL AND status = 'open') AS open,
                  count(*) FILTER (WHERE undoes IS NOT NULL AND status = 'done') AS undos
           FROM actions WHERE connector IS NOT NULL AND connector <> 'keel.approvals'
             AND started_at >= $1::TIMESTAMPTZ AND started_at < $2::TIMESTAMPTZ GROUP BY 1),
         a AS (
           SELECT connector,
                  count(*) FILTER (WHERE decision = 'approved') AS approved,
                  count(*) FILTER (WHERE decision = 'edited') AS edited,
                  count(*) FILTER (WHERE decision = 'rejected') AS rejected
           FROM approvals WHERE connector IS NOT NULL
             AND decided_at >= $1::TIMESTAMPTZ AND decided_at < $2::TIMESTAMPTZ GROUP BY 1)
         SELECT coalesce(c.connector, a.connector) AS connector, c.actions, c.succeeded, c.failed, c.open,
                c.undos, a.approved, a.edited, a.rejected
         FROM c FULL OUTER JOIN a ON c.connector = a.connector
         ORDER BY coalesce(c.actions, 0) DESC, 1`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => ({
        connector: text(row.connector),
        actions: Number(row.actions ?? 0),
        succeeded: Number(row.succeeded ?? 0),
        failed: Number(row.failed ?? 0),
        open: Number(row.open ?? 0),
        undos: Number(row.undos ?? 0),
        approved: Number(row.approved ?? 0),
        edited: Number(row.edited ?? 0),
        rejected: Number(row.rejected ?? 0),
      }));
    });
  }

  /**
   * Per runbook with a lesson: when the first was taught, and the operator's decisions over
   * [since, until) up to it (that one included) and after it, with those edited or rejected.
   */
  lessonRework(since: string, until: string): Promise<LessonRow[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `WITH l AS (SELECT runbook, min(decided_at) AS first FROM approvals WHERE lesson GROUP BY runbook)
         SELECT l.runbook, epoch_ms(l.first) AS first_ms,
                count(a.id) FILTER (WHERE a.decided_at <= l.first) AS before,
                count(a.id) FILTER (WHERE a.decided_at <= l.first AND a.decision IN ('edited', 'rejected')) AS rework_before,
                count(a.id) FILTER (WHERE a.decided_at > l.first) AS after,
                count(a.id) FILTER (WHERE a.decided_at > l.first AND a.decision IN ('edited', 'rejected')) AS rework_after
         FROM l LEFT JOIN approvals a ON a.runbook = l.runbook
           AND a.decision IN ('approved', 'edited', 'rejected')
           AND a.decided_at >= $1::TIMESTAMPTZ AND a.decided_at < $2::TIMESTAMPTZ
         GROUP BY l.runbook, l.first ORDER BY 1`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runbook: text(row.runbook),
        firstLesson: new Date(Number(row.first_ms)).toISOString(),
        before: Number(row.before),
        reworkBefore: Number(row.rework_before),
        after: Number(row.after),
        reworkAfter: Number(row.rework_after),
      }));
    });
  }

  /** Spend per runbook per local day over [since, until). */
  spendByDay(
    since: string,
    until: string,
  ): Promise<{ day: string; agent: string; costUsd: number; tokens: number }[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT strftime(started_at, '%Y-%m-%d') AS day, runbook, sum(cost_usd) AS cost, sum(tokens) AS tokens
         FROM runs WHERE started_at >= $1::TIMESTAMPTZ AND started_at < $2::TIMESTAMPTZ
         GROUP BY 1, 2 ORDER BY 1, 2`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => ({
        day: text(row.day),
        agent: text(row.runbook),
        costUsd: Number(row.cost),
        tokens: Number(row.tokens),
      }));
    });
  }

  /** Re-records a whole run from its journal (start-up repair). */
  reload(runId: string, records: readonly JournalRecord[]): void {
    if (this.closed) return;
    this.batch.reload(runId, records);
    this.written();
  }

  /**
   * Runs whose journals `keel gc` frees: their summaries are kept here, and their rows are kept by
   * `keepOnly` although no journal backs them any more, so `keel runs` and `keel report` still
   * count them. Written before any journal is deleted.
   */
  archiveRuns(summaries: readonly RunSummary[]): Promise<void> {
    return this.read(async () => {
      for (const summary of summaries) {
        await this.db.run('INSERT OR REPLACE INTO archived_runs VALUES ($1, $2, now())', [
          summary.id,
          JSON.stringify(summary),
        ]);
      }
    });
  }

  /** The summaries of runs whose journals `keel gc` freed. */
  archivedRuns(): Promise<RunSummary[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll('SELECT summary FROM archived_runs');
      return reader.getRowObjectsJS().map((row) => JSON.parse(text(row.summary)) as RunSummary);
    });
  }

  /** After start-up read every journal: rows of runs with no journal are deleted. */
  keepOnly(runIds: readonly string[]): void {
    if (this.closed) return;
    this.batch.keepOnly(runIds);
    this.written();
  }

  /**
   * How many step, model call and action rows the store holds for each run: a batch a crash cut
   * off leaves a run behind its journal (and a store older than its actions table holds none),
   * and start-up reloads it.
   */
  rowCounts(): Promise<Map<string, RunRowCounts>> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT run_id, sum(steps)::BIGINT AS steps, sum(ended)::BIGINT AS ended, sum(calls)::BIGINT AS calls,
                sum(actions)::BIGINT AS actions, sum(settled)::BIGINT AS settled,
                sum(retrievals)::BIGINT AS retrievals FROM (
           SELECT run_id, count(*) AS steps, count(ended_at) AS ended, 0 AS calls, 0 AS actions, 0 AS settled,
                  0 AS retrievals
           FROM steps GROUP BY run_id
           UNION ALL SELECT run_id, 0, 0, count(*), 0, 0, 0 FROM model_calls GROUP BY run_id
           UNION ALL SELECT run_id, 0, 0, 0, count(*), count(*) FILTER (WHERE status <> 'open'), 0
           FROM actions GROUP BY run_id
           UNION ALL SELECT run_id, 0, 0, 0, 0, 0, count(*) FROM retrievals GROUP BY run_id) GROUP BY run_id`,
      );
      return new Map(
        reader.getRowObjectsJS().map((row) => [
          text(row.run_id),
          {
            steps: Number(row.steps),
            ended: Number(row.ended),
            modelCalls: Number(row.calls),
            actions: Number(row.actions),
            settled: Number(row.settled),
            retrievals: Number(row.retrievals),
          },
        ]),
      );
    });
  }

  /**
   * Which runs read which version of which note: one row per run, note and blob, with the last time
   * the run read it; only `path`'s rows when given (`keel why`), every note's otherwise (staleness).
   */
  retrievals(path?: string): Promise<RetrievalUse[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT run_id, path, blob, epoch_ms(max(read_at)) AS read_at, list(DISTINCT step_id ORDER BY step_id) AS steps
         FROM retrievals ${path === undefined ? '' : 'WHERE path = $1'}
         GROUP BY run_id, path, blob ORDER BY max(read_at) DESC, run_id`,
        path === undefined ? [] : [path],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runId: text(row.run_id),
        path: text(row.path),
        blob: row.blob === null ? null : text(row.blob),
        at: new Date(Number(row.read_at)).toISOString(),
        steps: (row.steps as unknown[]).map(text),
      }));
    });
  }

  modelCalls(runId?: string): Promise<ModelCallRow[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT * FROM model_calls ${runId ? 'WHERE run_id = $1' : ''} ORDER BY called_at`,
        runId ? [runId] : [],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runId: text(row.run_id),
        stepId: text(row.step_id),
        tier: text(row.tier),
        model: text(row.model),
        attempt: Number(row.attempt),
        latencyMs: Number(row.latency_ms),
        inputTokens: Number(row.input_tokens),
        outputTokens: Number(row.output_tokens),
        costUsd: Number(row.cost_usd),
        outcome: text(row.outcome),
      }));
    });
  }

  /**
   * The newest `limit` rows of one table (`started_at`, `created_at` or `called_at` first), as
   * JSON values: the copy of Keel's metrics a `query` step reads, never this store itself.
   */
  newestRows(table: MetricsTable, limit: number): Promise<Record<string, unknown>[]> {
    const newest = {
      runs: 'started_at',
      steps: 'started_at',
      approvals: 'created_at',
      model_calls: 'called_at',
      actions: 'started_at',
    };
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT * FROM ${table} ORDER BY ${newest[table]} DESC NULLS LAST LIMIT $1`,
        [limit],
      );
      return reader.getRowObjectsJson();
    });
  }

  /**
   * The cost of a runbook's newest finished runs (cancelled ones left out: the operator cut them
   * short) at `tier`: runs that called a model at that tier, or none at all. At most `limit` runs
   * are read, so a long history answers as fast as a short one.
   */
  costHistory(
    runbook: string,
    tier: string,
    limit: number,
  ): Promise<{ runs: number; p50: number | null; p95: number | null }> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `WITH h AS (
           SELECT cost_usd FROM runs r
           WHERE r.runbook = $1 AND r.ended_at IS NOT NULL AND r.status <> 'cancelled'
             AND (EXISTS (SELECT 1 FROM model_calls m WHERE m.run_id = r.id AND m.tier = $2)
                  OR NOT EXISTS (SELECT 1 FROM model_calls m WHERE m.run_id = r.id))
           ORDER BY r.started_at DESC LIMIT $3)
         SELECT count(*) AS runs, quantile_cont(cost_usd, 0.5) AS p50, quantile_cont(cost_usd, 0.95) AS p95 FROM h`,
        [runbook, tier, limit],
      );
      const row = reader.getRowObjectsJS()[0] ?? {};
      const number = (value: unknown): number | null =>
        value === null || value === undefined ? null : Number(value);
      return { runs: Number(row.runs ?? 0), p50: number(row.p50), p95: number(row.p95) };
    });
  }

  /**
   * A run a spend quota refused, with what it would likely have cost, for budget advice. Refusals
   * leave no journal, so unlike the other tables this one is not rebuilt when .keel/ is deleted.
   */
  recordRefusal(refusal: RefusalRow): void {
    if (this.closed) return;
    void this.whenOpen();
    this.queue = this.queue.then(async () => {
      try {
        await this.db.run(`INSERT INTO refusals VALUES ($1, $2, $3, $4, $5::TIMESTAMPTZ)`, [
          refusal.runbook,
          refusal.agent,
          refusal.period,
          refusal.forecastUsd,
          refusal.at,
        ]);
      } catch (error) {
        this.warn(`a refused run was not recorded for budget advice (${(error as Error).message})`);
      }
    });
  }

  /** Runs refused by a quota since `since`, oldest first (at most 10,000: advice adds them up). */
  refusals(since: string): Promise<RefusalRow[]> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT runbook, agent, period, forecast_usd, refused_at FROM refusals
         WHERE refused_at >= $1::TIMESTAMPTZ ORDER BY refused_at LIMIT 10000`,
        [since],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runbook: text(row.runbook),
        agent: text(row.agent),
        period: row.period === 'month' ? 'month' : 'day',
        forecastUsd: Number(row.forecast_usd ?? 0),
        at: new Date(row.refused_at as Date).toISOString(),
      }));
    });
  }

  /** A query in DuckDB's line, after every row recorded before it is written. */
  private read<T>(query: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the run store is closed'));
    this.flushSoon();
    void this.whenOpen();
    const result = this.queue.then(query);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when every row recorded so far is written. */
  flushed(): Promise<void> {
    this.flushSoon();
    return this.queue;
  }

  /** Writes what is waiting (MAX_BATCH bounds each batch) and closes DuckDB. */
  async close(): Promise<void> {
    if (this.closed) return this.queue;
    // Rows recorded while a batch is written go in one more batch: none is left for a timer to
    // write after DuckDB is closed (which would crash the process).
    do await this.flushed();
    while (!this.batch.empty);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connection?.closeSync();
    this.instance?.closeSync();
  }

  /** A row was recorded: its batch is written within FLUSH_MS, or now when it is full. */
  private written(): void {
    if (this.batch.size >= MAX_BATCH) this.flushSoon();
    else this.timer ??= setTimeout(() => this.flushSoon(), FLUSH_MS).unref();
  }

  /** Queues one write of the batch as it will be then (a queued one takes later rows too). */
  private flushSoon(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushQueued || this.batch.empty) return;
    this.flushQueued = true;
    void this.whenOpen();
    this.queue = this.queue.then(() => this.flush());
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.batch;
    this.batch = new TraceBatch();
    // Closed, or never opened: the batch is dropped (the journals hold every row it had), or
    // close() would wait for it forever.
    if (this.closed || !this.connection || batch.empty) return;
    try {
      await batch.write(this.db);
    } catch (error) {
      // The journals have every row: the next start finds the runs behind and reloads them.
      this.warn(`the run store missed a batch of trace rows (${(error as Error).message})`);
    }
  }
}

/** A VARCHAR cell as read back from DuckDB. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Stores made before this change kept `actions` under a primary key. DuckDB's unique index can be
 * left corrupt ("existing gated leaf") when a batch deletes a run's rows and writes the same keys
 * again, as a reload does; the batch keeps the keys unique itself (see TraceBatch), so the key goes.
 */
async function dropActionsKey(db: DuckDBConnection): Promise<void> {
  const keyed = await db.runAndReadAll(
    `SELECT count(*)::INTEGER FROM duckdb_constraints()
     WHERE table_name = 'actions' AND constraint_type = 'PRIMARY KEY'`,
  );
  if (Number(keyed.getRows()[0]?.[0] ?? 0) === 0) return;
  await db.run('BEGIN TRANSACTION');
  try {
    await db.run('CREATE TABLE actions_unkeyed AS SELECT * FROM actions');
    await db.run('DROP TABLE actions');
    await db.run('ALTER TABLE actions_unkeyed RENAME TO actions');
    await db.run('COMMIT');
  } catch (error) {
    await db.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
