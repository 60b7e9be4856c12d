/**
 * The analytics tables: `.keel/analytics.duckdb`, a database of its own so that what a runbook
 * stores or queries never touches Keel's state (runs.duckdb, the catalog). Each write opens the
 * file, writes in one transaction and closes it, so a `query` can attach it read-only in between.
 * A step's rows carry their batch (run:step): storing the same batch again replaces it, so a
 * resumed or re-run step never doubles its rows.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdb } from '../runtime/duckdb';
import { DUCKDB_LOCKED_DOWN } from '../memory/store/catalog';
import { AnalyticsShapeError, checkName, checkRows, compatible, inferColumns, type Column } from './columns';
import { insertStaged, quoted, stageRows } from './stagedRows';

/** Past this size the file takes no more rows: analytics must not fill the operator's disk. */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;
/** The column each row's batch (run id : step id) is kept in. */
export const BATCH_COLUMN = '_keel_batch';
const STAGE = '_keel_stage';

export interface StoreRequest {
  table: string;
  rows: unknown;
  mode: 'replace' | 'append';
  key?: string[] | undefined;
  /** Who stores: `<run id>:<step id>`. */
  batch: string;
}

export interface StoreResult {
  table: string;
  stored: number;
  columns: Column[];
}

/** Stores rows into one analytics table of `file`; one transaction, nothing written on failure. */
export async function storeRows(file: string, request: StoreRequest): Promise<StoreResult> {
  const table = checkName(request.table, 'table');
  const rows = checkRows(request.rows);
  const columns = inferColumns(rows);
  for (const name of request.key ?? []) {
    if (!columns.some((column) => column.name === name)) {
      throw new AnalyticsShapeError(`key column "${name}" is in none of the rows stored into ${table}`);
    }
  }
  const size = await stat(file).then(
    (info) => info.size,
    () => 0,
  );
  if (size > MAX_FILE_BYTES) {
    throw new AnalyticsShapeError(
      `${file} is past ${MAX_FILE_BYTES / 1024 / 1024} MB; drop old tables (store with mode: replace) before adding rows`,
    );
  }
  await mkdir(dirname(file), { recursive: true });
  const instance = await duckdb().DuckDBInstance.create(file, {
    threads: '1',
    memory_limit: '256MB',
    ...DUCKDB_LOCKED_DOWN,
  });
  const db = await instance.connect();
  try {
    await db.run('BEGIN TRANSACTION');
    try {
      await write(db, table, columns, rows, request);
      await db.run('COMMIT');
    } catch (error) {
      await db.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return { table, stored: rows.length, columns };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

async function write(
  db: DuckDBConnection,
  table: string,
  columns: Column[],
  rows: Record<string, unknown>[],
  request: StoreRequest,
): Promise<void> {
  const target = quoted(table);
  const existing = await existingColumns(db, table);
  if (request.mode === 'replace' && existing) await db.run(`DROP TABLE ${target}`);
  if (request.mode === 'replace' || !existing) {
    const defs = [`${quoted(BATCH_COLUMN)} VARCHAR`, ...columns.map((c) => `${quoted(c.name)} ${c.type}`)];
    await db.run(`CREATE TABLE ${target} (${defs.join(', ')})`);
  } else {
    await addColumns(db, table, existing, columns);
  }
  const stage = { catalog: await currentCatalog(db), name: STAGE };
  await stageRows(db, stage, columns, rows, { [BATCH_COLUMN]: request.batch });
  if (request.key) {
    const byKey = request.key.map((name) => {
      const type = columns.find((c) => c.name === name)!.type;
      return `${target}.${quoted(name)} = CAST(s.${quoted(name)} AS ${type})`;
    });
    await db.run(`DELETE FROM ${target} USING ${quoted(STAGE)} s WHERE ${byKey.join(' AND ')}`);
  } else {
    await db.run(`DELETE FROM ${target} WHERE ${quoted(BATCH_COLUMN)} = $1`, [request.batch]);
  }
  await insertStaged(db, target, stage, columns, [BATCH_COLUMN]);
  await db.run(`DROP TABLE ${quoted(STAGE)}`);
}

/** The table's columns and their types, or null when it does not exist yet. */
async function existingColumns(db: DuckDBConnection, table: string): Promise<Map<string, string> | null> {
  const reader = await db.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  const rows = reader.getRowObjectsJson() as { column_name: string; data_type: string }[];
  return rows.length === 0 ? null : new Map(rows.map((row) => [row.column_name, row.data_type]));
}

/** New fields become new columns; a field whose values no longer fit its column is refused. */
async function addColumns(
  db: DuckDBConnection,
  table: string,
  existing: Map<string, string>,
  columns: Column[],
): Promise<void> {
  for (const column of columns) {
    const had = existing.get(column.name);
    if (had === undefined) {
      await db.run(`ALTER TABLE ${quoted(table)} ADD COLUMN ${quoted(column.name)} ${column.type}`);
    } else if (!compatible(had, column.type)) {
      throw new AnalyticsShapeError(
        `column ${table}.${column.name} holds ${had}, but these rows have ${column.type} values; ` +
          'store with mode: replace to start the table again, or into another table',
      );
    }
  }
}

async function currentCatalog(db: DuckDBConnection): Promise<string> {
  const reader = await db.runAndReadAll('SELECT current_database() AS name');
  return String((reader.getRowObjectsJson()[0] as { name: string }).name);
}
