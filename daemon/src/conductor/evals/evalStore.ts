/**
 * Eval results, baselines and drift in DuckDB (`.keel/evals.duckdb`). Its own file, not the run
 * store: that one is a projection of the journals, deleted and refilled when damaged, while eval
 * results exist nowhere else. A damaged file is set aside (`.damaged`) and started afresh.
 */
import { rename } from 'node:fs/promises';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { EvalCaseResult, EvalDrift, EvalSummaryRow } from '@keel/schemas';
import { DUCKDB_LOCKED_DOWN } from '../../memory/store/catalog';
import { duckdb } from '../../runtime/duckdb';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS eval_results (
  eval_id VARCHAR, run_at TIMESTAMPTZ, runbook VARCHAR, case_name VARCHAR, tier VARCHAR,
  repeat_index INTEGER, model VARCHAR, passed BOOLEAN, score DOUBLE, status VARCHAR, cost_usd DOUBLE,
  tokens BIGINT, latency_ms DOUBLE, reasoning VARCHAR, checks VARCHAR);
CREATE TABLE IF NOT EXISTS eval_baselines (
  runbook VARCHAR, tier VARCHAR, eval_id VARCHAR, set_at TIMESTAMPTZ, PRIMARY KEY (runbook, tier));
CREATE TABLE IF NOT EXISTS eval_drift (
  eval_id VARCHAR PRIMARY KEY, runbook VARCHAR, tier VARCHAR, drift_at TIMESTAMPTZ, drift VARCHAR);
`;

/** A stored result set: when it ran and its results. */
export interface EvalSet {
  evalId: string;
  at: string;
  results: EvalCaseResult[];
}

export class EvalStore {
  private closed = false;
  /** One statement at a time: DuckDB's connection is not for concurrent use. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
  ) {}

  /** Opens the store; a file DuckDB cannot open is set aside (never deleted) and a new one made. */
  static async open(file: string, warn: (message: string) => void): Promise<EvalStore> {
    const settings = { memory_limit: '32MB', threads: '1', ...DUCKDB_LOCKED_DOWN };
    let instance: DuckDBInstance;
    try {
      instance = await duckdb().DuckDBInstance.create(file, settings);
    } catch (error) {
      const aside = `${file}.damaged`;
      warn(
        `${file} could not be opened (${(error as Error).message}); moved to ${aside}, eval results start afresh`,
      );
      await rename(file, aside).catch(() => undefined);
      instance = await duckdb().DuckDBInstance.create(file, settings);
    }
    const db = await instance.connect();
    await db.run(SCHEMA);
    return new EvalStore(instance, db);
  }

  /** Stores one eval's results (all cases and repeats) in one transaction. */
  save(evalId: string, at: string, results: readonly EvalCaseResult[]): Promise<void> {
    return this.serially(async () => {
      await this.db.run('BEGIN');
      try {
        for (const r of results) {
          await this.db.run(
            `INSERT INTO eval_results VALUES ($1, $2::TIMESTAMPTZ, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
            [
              evalId,
              at,
              r.runbook,
              r.case,
              r.tier,
              r.repeat,
              r.model,
              r.passed,
              r.score,
              r.status,
              r.costUsd,
              r.tokens,
              r.latencyMs,
              r.reasoning,
              JSON.stringify(r.checks),
            ],
          );
        }
        await this.db.run('COMMIT');
      } catch (error) {
        await this.db.run('ROLLBACK');
        throw error;
      }
    });
  }

  setBaseline(runbook: string, tier: string, evalId: string, at: string): Promise<void> {
    return this.serially(async () => {
      await this.db.run('INSERT OR REPLACE INTO eval_baselines VALUES ($1, $2, $3, $4::TIMESTAMPTZ)', [
        runbook,
        tier,
        evalId,
        at,
      ]);
    });
  }

  /** The runbook's baseline for the tier, or null before its first eval. */
  baseline(runbook: string, tier: string): Promise<EvalSet | null> {
    return this.serially(async () => {
      const found = await this.db.runAndReadAll(
        'SELECT eval_id FROM eval_baselines WHERE runbook = $1 AND tier = $2',
        [runbook, tier],
      );
      const evalId = found.getRowObjectsJS()[0]?.eval_id;
      if (typeof evalId !== 'string') return null;
      const rows = await this.db.runAndReadAll(
        `SELECT * FROM eval_results WHERE eval_id = $1 ORDER BY case_name, repeat_index`,
        [evalId],
      );
      const results = rows.getRowObjectsJS().map(resultOf);
      return { evalId, at: iso(rows.getRowObjectsJS()[0]?.run_at), results };
    });
  }

  /** How many results of the runbook's newest eval on the tier passed, of how many; null before one. */
  latest(runbook: string, tier: string): Promise<{ passed: number; total: number } | null> {
    return this.serially(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT count(*) FILTER (WHERE passed) AS passed, count(*) AS total FROM eval_results
         WHERE eval_id = (SELECT arg_max(eval_id, run_at) FROM eval_results WHERE runbook = $1 AND tier = $2)`,
        [runbook, tier],
      );
      const row = reader.getRowObjectsJS()[0];
      const total = Number(row?.total ?? 0);
      return total > 0 ? { passed: Number(row?.passed), total } : null;
    });
  }

  saveDrift(evalId: string, drift: EvalDrift): Promise<void> {
    return this.serially(async () => {
      await this.db.run('INSERT OR REPLACE INTO eval_drift VALUES ($1, $2, $3, $4::TIMESTAMPTZ, $5)', [
        evalId,
        drift.runbook,
        drift.tier,
        drift.at,
        JSON.stringify(drift),
      ]);
    });
  }

  /** Per runbook and tier over [since, until): evals, pass rate, mean score, spend, newest model. */
  summary(since: string, until: string): Promise<EvalSummaryRow[]> {
    return this.serially(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT runbook, tier, count(DISTINCT eval_id) AS runs, avg(passed::INTEGER) AS pass_rate,
                avg(score) AS mean_score, sum(cost_usd) AS cost, sum(tokens) AS tokens,
                arg_max(model, run_at) AS model, max(run_at) AS last_at, avg(latency_ms) AS latency,
                count(*) FILTER (WHERE passed) AS passes
         FROM eval_results WHERE run_at >= $1::TIMESTAMPTZ AND run_at < $2::TIMESTAMPTZ
         GROUP BY runbook, tier ORDER BY runbook, tier`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => ({
        runbook: text(row.runbook),
        tier: text(row.tier),
        runs: Number(row.runs),
        passRate: Number(row.pass_rate),
        meanScore: Number(row.mean_score),
        costUsd: Number(row.cost),
        tokens: Number(row.tokens),
        model: typeof row.model === 'string' ? row.model : null,
        lastAt: iso(row.last_at),
        costPerPassUsd: Number(row.passes) > 0 ? Number(row.cost) / Number(row.passes) : null,
        meanLatencyMs: Number(row.latency),
      }));
    });
  }

  /** Drift found over [since, until), newest first. */
  drifts(since: string, until: string): Promise<EvalDrift[]> {
    return this.serially(async () => {
      const reader = await this.db.runAndReadAll(
        `SELECT drift FROM eval_drift WHERE drift_at >= $1::TIMESTAMPTZ AND drift_at < $2::TIMESTAMPTZ ORDER BY drift_at DESC`,
        [since, until],
      );
      return reader.getRowObjectsJS().map((row) => JSON.parse(text(row.drift)) as EvalDrift);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.db.closeSync();
    this.instance.closeSync();
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the eval store is closed'));
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function resultOf(row: Record<string, unknown>): EvalCaseResult {
  return {
    runbook: text(row.runbook),
    case: text(row.case_name),
    tier: text(row.tier),
    repeat: Number(row.repeat_index),
    model: typeof row.model === 'string' ? row.model : null,
    passed: row.passed === true,
    score: Number(row.score),
    status: text(row.status),
    costUsd: Number(row.cost_usd),
    tokens: Number(row.tokens),
    latencyMs: Number(row.latency_ms),
    reasoning: typeof row.reasoning === 'string' ? row.reasoning : null,
    checks: JSON.parse(text(row.checks)) as EvalCaseResult['checks'],
  };
}

/** A TIMESTAMPTZ cell as an ISO time. */
function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' || typeof value === 'number' ? new Date(value).toISOString() : '';
}

/** A VARCHAR cell as read back from DuckDB. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
