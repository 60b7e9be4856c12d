/**
 * The trace store as it was before it became a batched projection (commit df24990), kept verbatim
 * for one test: the figures the new store gives must be the ones this one gives for the same runs.
 *
 * Runs, steps and model calls in DuckDB (`.keel/runs.duckdb`), for reports and metrics. The
 * journals are the source of truth: this store is filled from them as records are written, and
 * rebuilt from them at start-up when it is missing, damaged or behind.
 */
import { rm } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Proposal, RunSummary } from '@keel/schemas';
import { DUCKDB_LOCKED_DOWN } from '../../daemon/src/memory/store/catalog';
import type { JournalRecord } from '../../daemon/src/conductor/journalRecords';

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
`;

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

export class LegacyTraceStore {
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
  ) {}

  /** Opens the store; a damaged file is deleted and created again (the journals refill it). */
  static async open(file: string, warn: (message: string) => void): Promise<LegacyTraceStore> {
    try {
      return await LegacyTraceStore.create(file);
    } catch (error) {
      warn(`${file} is damaged (${(error as Error).message}); rebuilding it from the run journals`);
      await rm(file, { force: true });
      await rm(`${file}.wal`, { force: true });
      return LegacyTraceStore.create(file);
    }
  }

  private static async create(file: string): Promise<LegacyTraceStore> {
    const instance = await DuckDBInstance.create(file, {
      memory_limit: '32MB',
      threads: '1',
      ...DUCKDB_LOCKED_DOWN,
    });
    const db = await instance.connect();
    await db.run(SCHEMA);
    return new LegacyTraceStore(instance, db);
  }

  /** Records one journal record of a run; writes are serialised and never block the run. */
  record(runId: string, record: JournalRecord): void {
    this.enqueue(() => this.apply(runId, record));
  }

  /** Writes a run's current summary (nothing once the store is closed: DuckDB would crash). */
  saveRun(summary: RunSummary): void {
    this.enqueue(async () => {
      await this.db.run('DELETE FROM runs WHERE id = $1', [summary.id]);
      await this.db.run(
        'INSERT INTO runs VALUES ($1, $2, $3, $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, $6, $7, $8, $9)',
        [
          summary.id,
          summary.runbook,
          summary.status,
          summary.startedAt,
          summary.endedAt,
          summary.costUsd,
          summary.tokens,
          summary.stepsDone,
          summary.error,
        ],
      );
    });
  }

  /** Writes a proposal's current state (for rework rates). */
  saveApproval(proposal: Proposal): void {
    this.enqueue(async () => {
      await this.db.run('DELETE FROM approvals WHERE id = $1', [proposal.id]);
      await this.db.run(
        'INSERT INTO approvals VALUES ($1, $2, $3, $4, $5, $6::TIMESTAMPTZ, $7::TIMESTAMPTZ)',
        [
          proposal.id,
          proposal.runId,
          proposal.runbook,
          proposal.status,
          proposal.decision?.kind ?? null,
          proposal.createdAt,
          proposal.decision?.at ?? null,
        ],
      );
    });
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
    this.enqueue(async () => {
      for (const table of ['steps', 'model_calls'])
        await this.db.run(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
      for (const record of records) await this.apply(runId, record);
    });
  }

  /** How many model calls the store holds for each run (to find runs it is behind on). */
  modelCallCounts(): Promise<Map<string, number>> {
    return this.read(async () => {
      const reader = await this.db.runAndReadAll(
        'SELECT run_id, count(*) AS n FROM model_calls GROUP BY run_id',
      );
      return new Map(reader.getRowObjectsJS().map((row) => [text(row.run_id), Number(row.n)]));
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
   * A query in the same line as the writes: one DuckDB connection must never run two statements
   * at once (it crashes the process).
   */
  private read<T>(query: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the run store is closed'));
    const result = this.queue.then(query);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when every write queued so far is done. */
  flushed(): Promise<void> {
    return this.queue;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushed();
    this.closed = true;
    this.db.closeSync();
    this.instance.closeSync();
  }

  private enqueue(task: () => Promise<void>): void {
    if (this.closed) return;
    this.queue = this.queue.then(task).catch(() => undefined);
  }

  private async apply(runId: string, record: JournalRecord): Promise<void> {
    if (record.type === 'stepStart') {
      await this.db.run('INSERT INTO steps VALUES ($1, $2, $3, $4, $5::TIMESTAMPTZ, NULL, NULL)', [
        runId,
        record.stepId,
        record.stepType,
        'running',
        record.at,
      ]);
    } else if (record.type === 'stepEnd') {
      await this.db.run(
        `UPDATE steps SET status = $3, ended_at = $4::TIMESTAMPTZ, error = $5 WHERE run_id = $1 AND step_id = $2`,
        [runId, record.stepId, record.status, record.at, record.error],
      );
    } else if (record.type === 'modelCall') {
      await this.db.run(
        'INSERT INTO model_calls VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::TIMESTAMPTZ)',
        [
          runId,
          record.stepId,
          record.call,
          record.attempt,
          record.tier,
          record.model,
          record.latencyMs,
          record.response?.usage.inputTokens ?? 0,
          record.response?.usage.outputTokens ?? 0,
          record.costUsd,
          record.outcome,
          record.at,
        ],
      );
    }
  }
}

/** A VARCHAR cell as read back from DuckDB. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
