/**
 * The shape of rows stored in an analytics table: names checked against identifier rules, one
 * DuckDB type per column inferred from the values, and the caps that keep one step from filling
 * the disk. Pure: the store (analyticsStore.ts) turns this into DDL and appends.
 */

/** Rows one step may store at once. */
export const MAX_ROWS = 100_000;
/** Columns of one table. */
export const MAX_COLUMNS = 200;
/** Characters of one text value (a longer one is refused, not cut: a cut value is a wrong value). */
export const MAX_TEXT = 100_000;

/** Lists and objects are stored as their JSON text in a VARCHAR column (DuckDB's json_* functions read it). */
export type ColumnType = 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'TIMESTAMPTZ' | 'VARCHAR';

export interface Column {
  name: string;
  type: ColumnType;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export class AnalyticsShapeError extends Error {}

/** A table or column name as written, or a clear refusal (it is quoted in SQL, but never trusted). */
export function checkName(name: string, what: 'table' | 'column'): string {
  if (!NAME.test(name) || name.startsWith('keel') || name.startsWith('_keel')) {
    throw new AnalyticsShapeError(
      `${what} name ${JSON.stringify(name.slice(0, 80))} is not allowed: use lowercase letters, digits and _, ` +
        'starting with a letter, at most 63 characters, not starting with "keel"',
    );
  }
  return name;
}

/** The narrowest type every value of a column fits; nulls say nothing. */
export function inferType(values: readonly unknown[]): ColumnType {
  let type: ColumnType | null = null;
  for (const value of values) {
    if (value === null || value === undefined) continue;
    type = widen(type, typeOf(value));
  }
  return type ?? 'VARCHAR';
}

function typeOf(value: unknown): ColumnType {
  if (typeof value === 'boolean') return 'BOOLEAN';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'BIGINT' : 'DOUBLE';
  if (typeof value === 'string')
    return ISO_TIME.test(value) && !Number.isNaN(Date.parse(value)) ? 'TIMESTAMPTZ' : 'VARCHAR';
  return 'VARCHAR';
}

function widen(current: ColumnType | null, next: ColumnType): ColumnType {
  if (current === null || current === next) return next;
  const numbers = new Set<ColumnType>(['BIGINT', 'DOUBLE']);
  if (numbers.has(current) && numbers.has(next)) return 'DOUBLE';
  return 'VARCHAR';
}

/** The columns of a set of rows, in first-seen order, each with its inferred type. */
export function inferColumns(rows: readonly Record<string, unknown>[]): Column[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const name of Object.keys(row)) {
      if (seen.has(name)) continue;
      seen.add(name);
      names.push(checkName(name, 'column'));
      if (names.length > MAX_COLUMNS) {
        throw new AnalyticsShapeError(`rows have more than ${MAX_COLUMNS} columns; store fewer fields`);
      }
    }
  }
  return names.map((name) => ({ name, type: inferType(rows.map((row) => row[name])) }));
}

/** The rows as a list of plain objects, within the caps, or a message saying what is wrong. */
export function checkRows(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) {
    throw new AnalyticsShapeError(
      `rows must be a list of objects, got ${value === null ? 'null' : typeof value}; point "rows:" at the list`,
    );
  }
  if (value.length > MAX_ROWS) {
    throw new AnalyticsShapeError(`${value.length} rows is more than the ${MAX_ROWS} one step may store`);
  }
  return value.map((row, index) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new AnalyticsShapeError(`row ${index} is not an object`);
    }
    for (const item of Object.values(row as Record<string, unknown>)) {
      const text =
        typeof item === 'string'
          ? item
          : item !== null && typeof item === 'object'
            ? JSON.stringify(item)
            : '';
      if (text.length > MAX_TEXT) {
        throw new AnalyticsShapeError(`row ${index} has a value longer than ${MAX_TEXT} characters`);
      }
    }
    return row as Record<string, unknown>;
  });
}

/** A value as its column stores it: lists and objects as JSON text. */
export function cellValue(value: unknown, type: ColumnType): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (type === 'VARCHAR' || type === 'TIMESTAMPTZ')
    return typeof value === 'string' ? value : JSON.stringify(value);
  if (type === 'BOOLEAN') return Boolean(value);
  return Number(value);
}

/** Whether an existing column of type `had` keeps values of `now` without losing them. */
export function compatible(had: string, now: ColumnType): boolean {
  const upper = had.toUpperCase();
  if (upper === now) return true;
  if (upper === 'DOUBLE' && now === 'BIGINT') return true;
  if (upper === 'VARCHAR') return true;
  if (upper === 'TIMESTAMP WITH TIME ZONE' && now === 'TIMESTAMPTZ') return true;
  return false;
}
