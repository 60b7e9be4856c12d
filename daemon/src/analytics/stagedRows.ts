/**
 * Rows into a DuckDB table through one staging table of text columns, cast by name on insert:
 * the appender writes text alone, so every column type (timestamps too) converts the same way,
 * and a value that does not fit fails the statement with DuckDB's own message.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { cellValue, type Column } from './columns';

/** A name quoted as a SQL identifier; callers check names first (columns.ts), this is the second line. */
export function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Appends `rows` to `target` (a quoted, possibly qualified name) whose columns include `columns`;
 * `extra` are constant text columns (the batch) added to every row. Returns the staging table,
 * which the caller drops once it has used it (a key's delete reads it).
 */
export async function stageRows(
  db: DuckDBConnection,
  stage: { catalog: string; name: string },
  columns: readonly Column[],
  rows: readonly Record<string, unknown>[],
  extra: Record<string, string> = {},
): Promise<void> {
  const names = [...Object.keys(extra), ...columns.map((column) => column.name)];
  const full = `${quoted(stage.catalog)}.${quoted(stage.name)}`;
  await db.run(`CREATE TABLE ${full} (${names.map((name) => `${quoted(name)} VARCHAR`).join(', ')})`);
  const appender = await db.createAppender(stage.name, 'main', stage.catalog);
  try {
    for (const row of rows) {
      for (const value of Object.values(extra)) appender.appendVarchar(value);
      for (const column of columns) {
        const cell = cellValue(row[column.name], column.type);
        if (cell === null) appender.appendNull();
        else appender.appendVarchar(String(cell));
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** `INSERT ... BY NAME` from the staging table, each column cast to its type. */
export async function insertStaged(
  db: DuckDBConnection,
  target: string,
  stage: { catalog: string; name: string },
  columns: readonly Column[],
  extra: readonly string[] = [],
): Promise<void> {
  const select = [
    ...extra.map((name) => quoted(name)),
    ...columns.map((column) => `CAST(${quoted(column.name)} AS ${column.type}) AS ${quoted(column.name)}`),
  ];
  await db.run(
    `INSERT INTO ${target} BY NAME SELECT ${select.join(', ')} FROM ${quoted(stage.catalog)}.${quoted(stage.name)}`,
  );
}
