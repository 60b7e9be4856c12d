/**
 * Trace rows waiting to reach DuckDB, written in one transaction: a run's summary and a proposal
 * are kept once (the latest wins, an upsert), step and model call rows are inserted many to a
 * statement, and a step's end updates its row in memory when the row is still waiting. A run's
 * progress costs DuckDB one commit per batch, not nine statements per step.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Proposal, RunSummary } from '@keel/schemas';
import type { JournalRecord, RecordOf } from './journalRecords';
import { retrievalRows, type RetrievalRow } from './retrievalRows';

/** Rows per INSERT statement: large enough to amortise the statement, small enough to parse fast. */
const ROWS_PER_STATEMENT = 200;

interface StepEnd {
  runId: string;
  stepId: string;
  status: string;
  at: string;
  error: string | null;
}

/** A `steps` row as inserted: run, step, type, status, started, ended, error. */
type StepRow = [string, string, string, string, string, string | null, string | null];

/**
 * An `actions` row: one connector call (its idempotency key), as far as this batch knows it. A
 * field left null keeps what an earlier batch wrote (an `effectFailed` names no connector).
 */
interface ActionRow {
  runId: string;
  key: string;
  stepId: string;
  connector: string | null;
  action: string | null;
  /** The key of the action this call undoes (compensation). */
  undoes: string | null;
  /** `open` from the intent until `done` or `failed`. */
  status: 'open' | 'done' | 'failed';
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
}

export class TraceBatch {
  /** Runs whose step and model call rows are deleted first (start-up repair writes them again). */
  private readonly reloads = new Set<string>();
  private steps: StepRow[] = [];
  /** Rows of `steps`, by run and step: a step's end updates every row of its step, as UPDATE did. */
  private readonly stepRows = new Map<string, StepRow[]>();
  /** The last end of each step, for rows an earlier batch wrote. */
  private readonly stepEnds = new Map<string, StepEnd>();
  private modelCalls: DuckDBValue[][] = [];
  /** The notes each step read, and which version of each (provenance: `keel why`). */
  private retrievals: RetrievalRow[] = [];
  private readonly actions = new Map<string, ActionRow>();
  private readonly runs = new Map<string, RunSummary>();
  private readonly approvals = new Map<string, Proposal>();
  /** Every run with a journal, at start-up: rows of any other run are deleted (see keepOnly). */
  private kept: readonly string[] | null = null;
  /** Journal records and summaries taken in, to bound the batch. */
  size = 0;

  record(runId: string, record: JournalRecord): void {
    this.size++;
    if (record.type === 'stepStart') {
      const row: StepRow = [runId, record.stepId, record.stepType, 'running', record.at, null, null];
      this.steps.push(row);
      const key = stepKey(runId, record.stepId);
      const rows = this.stepRows.get(key);
      if (rows) rows.push(row);
      else this.stepRows.set(key, [row]);
    } else if (record.type === 'stepEnd') {
      const key = stepKey(runId, record.stepId);
      for (const row of this.stepRows.get(key) ?? []) {
        row[3] = record.status;
        row[5] = record.at;
        row[6] = record.error;
      }
      const end = { runId, stepId: record.stepId, status: record.status, at: record.at, error: record.error };
      this.stepEnds.set(key, end);
      this.retrievals.push(...retrievalRows(runId, record));
    } else if (record.type === 'modelCall') {
      this.modelCalls.push([
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
      ]);
    } else if (record.type === 'effectIntent' || record.type === 'effect' || record.type === 'effectFailed') {
      this.recordAction(runId, record);
    }
  }

  private recordAction(
    runId: string,
    record: RecordOf<'effectIntent'> | RecordOf<'effect'> | RecordOf<'effectFailed'>,
  ): void {
    const id = stepKey(runId, record.key);
    const row: ActionRow = this.actions.get(id) ?? {
      runId,
      key: record.key,
      stepId: record.stepId,
      connector: null,
      action: null,
      undoes: null,
      status: 'open',
      startedAt: null,
      endedAt: null,
      error: null,
    };
    if (record.type === 'effectIntent') {
      row.connector = record.connector;
      row.action = record.action;
      row.undoes = record.undoes ?? null;
      row.status = 'open';
      row.startedAt ??= record.at;
    } else if (record.type === 'effect') {
      // A read journals no intent: its effect is where it starts and ends.
      row.connector = record.connector;
      row.action = record.action;
      row.status = 'done';
      row.startedAt ??= record.at;
      row.endedAt = record.at;
      row.error = null;
    } else {
      row.status = 'failed';
      row.endedAt = record.at;
      row.error = record.error;
    }
    this.actions.set(id, row);
  }

  /** The run's step and model call rows are replaced by those of its whole journal. */
  reload(runId: string, records: readonly JournalRecord[]): void {
    this.reloads.add(runId);
    this.steps = this.steps.filter((row) => row[0] !== runId);
    this.modelCalls = this.modelCalls.filter((row) => row[0] !== runId);
    this.retrievals = this.retrievals.filter((row) => row[0] !== runId);
    for (const [key, row] of this.actions) if (row.runId === runId) this.actions.delete(key);
    for (const [key, end] of this.stepEnds) if (end.runId === runId) this.stepEnds.delete(key);
    for (const [key, rows] of this.stepRows) if (rows[0]?.[0] === runId) this.stepRows.delete(key);
    for (const record of records) this.record(runId, record);
  }

  /**
   * The store holds rows of these runs only: a row no journal backs (planted in the file, or left
   * by a journal since deleted or quarantined) is deleted before this batch's rows are written.
   */
  keepOnly(runIds: readonly string[]): void {
    this.size++;
    this.kept = runIds;
  }

  saveRun(summary: RunSummary): void {
    this.size++;
    this.runs.set(summary.id, summary);
  }

  saveApproval(proposal: Proposal): void {
    this.size++;
    this.approvals.set(proposal.id, proposal);
  }

  get empty(): boolean {
    return this.size === 0 && this.reloads.size === 0;
  }

  /** Writes the batch in one transaction; nothing of it is written when a statement fails. */
  async write(db: DuckDBConnection): Promise<void> {
    await db.run('BEGIN TRANSACTION');
    try {
      await this.writeRows(db);
      await db.run('COMMIT');
    } catch (error) {
      await db.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async writeRows(db: DuckDBConnection): Promise<void> {
    if (this.kept) await prune(db, this.kept);
    const reloaded = [...this.reloads];
    for (const table of ['steps', 'model_calls', 'actions', 'retrievals']) {
      await each(
        db,
        `DELETE FROM ${table} WHERE run_id IN (`,
        reloaded.map((id) => [id]),
        '$1::VARCHAR',
        ')',
      );
    }
    // Before the inserts: an end updates the rows earlier batches wrote, never the new ones.
    await each(
      db,
      `UPDATE steps SET status = u.status, ended_at = u.ended_at, error = u.error FROM (VALUES`,
      [...this.stepEnds.values()].map((e) => [e.runId, e.stepId, e.status, e.at, e.error]),
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::TIMESTAMPTZ, $5::VARCHAR)',
      ') AS u(run_id, step_id, status, ended_at, error) WHERE steps.run_id = u.run_id AND steps.step_id = u.step_id',
    );
    await each(
      db,
      'INSERT INTO steps VALUES',
      this.steps,
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::TIMESTAMPTZ, $6::TIMESTAMPTZ, $7::VARCHAR)',
    );
    await each(
      db,
      'INSERT INTO model_calls VALUES',
      this.modelCalls,
      '($1::VARCHAR, $2::VARCHAR, $3::INTEGER, $4::INTEGER, $5::VARCHAR, $6::VARCHAR, $7::DOUBLE, ' +
        '$8::BIGINT, $9::BIGINT, $10::DOUBLE, $11::VARCHAR, $12::TIMESTAMPTZ)',
    );
    await each(
      db,
      'INSERT INTO retrievals VALUES',
      this.retrievals,
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::TIMESTAMPTZ)',
    );
    // An upsert: a later batch settles (or names the connector of) an action an earlier one wrote.
    // Done as an update, then an insert of the rows not there: the table has no unique index
    // (see dropActionsKey in traceStore.ts); this batch holds each (run, key) once.
    const actions = [...this.actions.values()].map((a) => [
      a.runId,
      a.key,
      a.stepId,
      a.connector,
      a.action,
      a.undoes,
      a.status,
      a.startedAt,
      a.endedAt,
      a.error,
    ]);
    const actionRow =
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, ' +
      '$8::TIMESTAMPTZ, $9::TIMESTAMPTZ, $10::VARCHAR)';
    const actionColumns =
      'u(run_id, key, step_id, connector, action, undoes, status, started_at, ended_at, error)';
    await each(
      db,
      'UPDATE actions SET connector = coalesce(u.connector, actions.connector), ' +
        'action = coalesce(u.action, actions.action), undoes = coalesce(u.undoes, actions.undoes), ' +
        'status = u.status, started_at = coalesce(actions.started_at, u.started_at), ' +
        'ended_at = u.ended_at, error = u.error FROM (VALUES',
      actions,
      actionRow,
      `) AS ${actionColumns} WHERE actions.run_id = u.run_id AND actions.key = u.key`,
    );
    await each(
      db,
      'INSERT INTO actions SELECT * FROM (VALUES',
      actions,
      actionRow,
      `) AS ${actionColumns} WHERE NOT EXISTS ` +
        '(SELECT 1 FROM actions a WHERE a.run_id = u.run_id AND a.key = u.key)',
    );
    await each(
      db,
      'INSERT OR REPLACE INTO runs VALUES',
      [...this.runs.values()].map((s) => [
        s.id,
        s.runbook,
        s.status,
        s.startedAt,
        s.endedAt,
        s.costUsd,
        s.tokens,
        s.stepsDone,
        s.error,
      ]),
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, $6::DOUBLE, $7::BIGINT, ' +
        '$8::INTEGER, $9::VARCHAR)',
    );
    await each(
      db,
      'INSERT OR REPLACE INTO approvals (id, run_id, runbook, status, decision, created_at, decided_at, connector, lesson) VALUES',
      [...this.approvals.values()].map((p) => [
        p.id,
        p.runId,
        p.runbook,
        p.status,
        p.decision?.kind ?? null,
        p.createdAt,
        p.decision?.at ?? null,
        p.action?.connector ?? null,
        p.decision?.lesson ?? false,
      ]),
      '($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::TIMESTAMPTZ, $7::TIMESTAMPTZ, ' +
        '$8::VARCHAR, $9::BOOLEAN)',
    );
  }
}

/** Deletes the rows of every run not in `kept` nor archived by `keel gc`. */
async function prune(db: DuckDBConnection, kept: readonly string[]): Promise<void> {
  await db.run('CREATE TEMP TABLE IF NOT EXISTS kept_runs (id VARCHAR)');
  await db.run('DELETE FROM kept_runs');
  await each(
    db,
    'INSERT INTO kept_runs VALUES',
    kept.map((id) => [id]),
    '($1::VARCHAR)',
  );
  // A run `keel gc` archived has no journal any more, by design: its rows stay for reports.
  await db.run('INSERT INTO kept_runs SELECT id FROM archived_runs');
  await db.run('DELETE FROM runs WHERE id NOT IN (SELECT id FROM kept_runs)');
  for (const table of ['steps', 'model_calls', 'actions', 'retrievals'])
    await db.run(`DELETE FROM ${table} WHERE run_id NOT IN (SELECT id FROM kept_runs)`);
}

/**
 * Runs `head (row), (row), ... tail` over the rows, ROWS_PER_STATEMENT at a time; `row` is one
 * row's placeholders numbered from $1, renumbered for each row of the statement.
 */
async function each(
  db: DuckDBConnection,
  head: string,
  rows: readonly (readonly DuckDBValue[])[],
  row: string,
  tail = '',
): Promise<void> {
  const width = rows[0]?.length ?? 0;
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
    const values = chunk.map((_, i) =>
      row.replace(/\$(\d+)/g, (_m, n: string) => `$${i * width + Number(n)}`),
    );
    const params: DuckDBValue[] = chunk.flat();
    await db.run(`${head} ${values.join(', ')} ${tail}`, params);
  }
}

function stepKey(runId: string, stepId: string): string {
  return `${runId}\u0000${stepId}`;
}
