/**
 * One read-only SQL query over the analytics tables and a copy of Keel's metrics, in a DuckDB of
 * its own that lives for this query alone. DuckDB's settings do the locking (the analytics file
 * attached READ_ONLY, then `enable_external_access = false` and `lock_configuration = true`, so no
 * file is read, nothing attached, no extension installed); Keel adds one SELECT only, bound
 * parameters, a row cap and a timeout that interrupts the query.
 * One file stays readable by DuckDB's own rule: the attached analytics file itself (its raw bytes
 * through `read_text`), which holds nothing the query cannot already SELECT.
 */
import { existsSync } from 'node:fs';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { duckdb } from '../runtime/duckdb';
import type { Column } from './columns';
import { insertStaged, stageRows } from './stagedRows';

/** Keel's metrics as a query sees them: `keel.<table>`, a copy taken for this query. */
export type MetricsTables = Record<string, { columns: Column[]; rows: Record<string, unknown>[] }>;

export interface QueryRequest {
  sql: string;
  params: Record<string, string | number | boolean | null>;
  maxRows: number;
  timeoutMs: number;
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** A query Keel will not run, or one that failed; the message says which and why. */
export class QueryRefusedError extends Error {}

/** The settings every query runs under: tests read them back with `current_setting`. */
const SETTINGS = {
  threads: '1',
  memory_limit: '256MB',
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
  allow_community_extensions: 'false',
  allow_unsigned_extensions: 'false',
} as const;

export async function runReadOnlyQuery(
  analyticsFile: string | null,
  metrics: MetricsTables,
  request: QueryRequest,
): Promise<QueryResult> {
  const instance = await duckdb().DuckDBInstance.create(':memory:', SETTINGS);
  const db = await instance.connect();
  try {
    await loadMetrics(db, metrics);
    if (analyticsFile !== null && existsSync(analyticsFile)) {
      await db.run(`ATTACH '${analyticsFile.replaceAll("'", "''")}' AS analytics (READ_ONLY)`);
    } else {
      await db.run(`ATTACH ':memory:' AS analytics`);
    }
    await db.run('USE analytics');
    // From here on nothing outside this process's memory can be reached, nor the setting undone.
    await db.run('SET enable_external_access = false');
    await db.run('SET lock_configuration = true');
    return await runSelect(db, request);
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** `keel.runs`, `keel.steps`... in an in-memory database named `keel`. */
async function loadMetrics(db: DuckDBConnection, metrics: MetricsTables): Promise<void> {
  await db.run(`ATTACH ':memory:' AS keel`);
  for (const [name, table] of Object.entries(metrics)) {
    const defs = table.columns.map((column) => `"${column.name}" ${column.type}`).join(', ');
    await db.run(`CREATE TABLE keel."${name}" (${defs})`);
    const stage = { catalog: 'memory', name: `stage_${name}` };
    await stageRows(db, stage, table.columns, table.rows);
    await insertStaged(db, `keel."${name}"`, stage, table.columns);
    await db.run(`DROP TABLE memory."stage_${name}"`);
  }
}

async function runSelect(db: DuckDBConnection, request: QueryRequest): Promise<QueryResult> {
  const statements = await db.extractStatements(request.sql).catch((error: Error) => {
    throw new QueryRefusedError(`the query does not parse: ${error.message}`);
  });
  if (statements.count !== 1) {
    throw new QueryRefusedError(
      `a query step runs exactly one SELECT; this SQL has ${statements.count} statements`,
    );
  }
  const prepared = await statements.prepare(0).catch((error: Error) => {
    throw new QueryRefusedError(error.message);
  });
  const { StatementType } = duckdb();
  if (prepared.statementType !== StatementType.SELECT) {
    throw new QueryRefusedError(
      `a query step only reads: this is a ${StatementType[prepared.statementType]} statement; write SELECT ... (tables are filled by a step's "into:")`,
    );
  }
  prepared.bind(bindings(prepared, request.params));
  const timer = setTimeout(() => db.interrupt(), request.timeoutMs);
  try {
    const reader = await prepared.streamAndReadUntil(request.maxRows + 1);
    if (reader.currentRowCount > request.maxRows) {
      throw new QueryRefusedError(
        `the query gives more than ${request.maxRows} rows (maxRows); aggregate, filter or add LIMIT`,
      );
    }
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() };
  } catch (error) {
    if (error instanceof QueryRefusedError) throw error;
    const message = (error as Error).message;
    if (/interrupt/i.test(message)) {
      throw new QueryRefusedError(
        `the query was stopped after ${request.timeoutMs / 1000} s (timeoutSeconds)`,
      );
    }
    throw new QueryRefusedError(message);
  } finally {
    clearTimeout(timer);
  }
}

/** Every `$name` of the query from `params`, by name; a name the step does not give is refused. */
function bindings(
  prepared: { parameterCount: number; parameterName(index: number): string },
  params: QueryRequest['params'],
): Record<string, DuckDBValue> {
  const values: Record<string, DuckDBValue> = {};
  for (let index = 1; index <= prepared.parameterCount; index++) {
    const name = prepared.parameterName(index);
    if (!Object.hasOwn(params, name)) {
      throw new QueryRefusedError(
        `the query uses $${name}, which the step's params: does not give (it gives: ${Object.keys(params).join(', ') || 'none'})`,
      );
    }
    values[name] = params[name] ?? null;
  }
  return values;
}
