/**
 * The metadata side of the index, in DuckDB (`.keel/keel.duckdb`): every indexed document with its
 * content hash (the git blob id), size and time, frontmatter, type, tags and dates; every chunk's
 * line range; the problems found in files; and what built the index.
 */
import type { DuckDBInstance, DuckDBConnection, DuckDBAppender } from '@duckdb/node-api';
import { duckdb } from '../../runtime/duckdb';
import type { Problem } from '@keel/schemas';
import type { NoteLayout } from '../noteLayout';

/**
 * DuckDB settings for a database file that may come from a cloned workspace: it reads no other
 * file, attaches nothing, and installs or loads no extension, whatever a stored view or macro asks.
 */
export const DUCKDB_LOCKED_DOWN = {
  enable_external_access: 'false',
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
} as const;

export interface DocumentRecord {
  path: string;
  kind: string;
  /** git's blob id of the content: `sha1("blob <size>\0" + content)`. */
  blob: string;
  size: number;
  mtimeMs: number;
  type: string | null;
  title: string | null;
  tags: string[];
  date: string | null;
  reviewBy: string | null;
  frontmatter: Record<string, unknown> | null;
  chunks: { chunk: number; startLine: number; endLine: number; heading: string; chars: number }[];
  problems: Problem[];
}

/** A file seen on disk but not indexed (it does not parse): remembered so it is not re-read. */
export interface RejectedRecord {
  path: string;
  blob: string;
  size: number;
  mtimeMs: number;
  problem: Problem;
}

export interface FileState {
  blob: string;
  size: number;
  mtimeMs: number;
  /**
   * Where the index's chunks of this content are in the file (kept in memory only): set when the
   * writer indexes it, or when a search first parses it (noteChunks.ts).
   */
  layout?: NoteLayout;
  /** How many chunks the index holds of this content (0: rejected, or none), when known. */
  chunks?: number;
}

const SCHEMA_VERSION = '1';

const MIGRATIONS = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS documents (
  path VARCHAR, kind VARCHAR, blob VARCHAR, size BIGINT, mtime_ms DOUBLE, indexed BOOLEAN,
  type VARCHAR, title VARCHAR, tags VARCHAR[], date VARCHAR, review_by VARCHAR, frontmatter VARCHAR,
  chunk_count INTEGER, indexed_at_ms DOUBLE);
CREATE TABLE IF NOT EXISTS chunks (
  id VARCHAR, path VARCHAR, chunk INTEGER, start_line INTEGER, end_line INTEGER, heading VARCHAR, chars INTEGER);
CREATE TABLE IF NOT EXISTS problems (
  path VARCHAR, line INTEGER, "column" INTEGER, end_line INTEGER, end_column INTEGER, severity VARCHAR, message VARCHAR);
`;

export class Catalog {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
  ) {}

  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();

  /** Opens (or creates) the catalog at `file`. Throws if the file is damaged. */
  static async open(file: string): Promise<Catalog> {
    // DuckDB's defaults (80% of RAM, every core) suit analytics servers, not an editor's daemon.
    const instance = await duckdb().DuckDBInstance.create(file, {
      memory_limit: '64MB',
      threads: '2',
      ...DUCKDB_LOCKED_DOWN,
    });
    const db = await instance.connect();
    const catalog = new Catalog(instance, db);
    try {
      await db.run(MIGRATIONS);
      const version = await catalog.getMeta('schema_version');
      if (version === null) await catalog.setMeta('schema_version', SCHEMA_VERSION);
      else if (version !== SCHEMA_VERSION)
        throw new Error(`catalog schema ${version}, expected ${SCHEMA_VERSION}`);
      await catalog.verify();
    } catch (error) {
      await catalog.close();
      throw error;
    }
    return catalog;
  }

  /**
   * Reads every column of every table: a corrupt block (DuckDB checks each block's checksum as it
   * reads it) fails here, at open or in a health check, not in the middle of a later write.
   */
  verify(): Promise<void> {
    return this.using(async () => {
      for (const table of ['meta', 'documents', 'chunks', 'problems']) {
        await this.db.runAndReadAll(
          `SELECT count(*), sum(length(CAST(COLUMNS(*) AS VARCHAR))) FROM ${table}`,
        );
      }
    });
  }

  getMeta(key: string): Promise<string | null> {
    return this.using(async () => {
      const reader = await this.db.runAndReadAll('SELECT value FROM meta WHERE key = $1', [key]);
      const row = reader.getRowObjectsJS()[0];
      return row ? asText(row.value) : null;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.using(async () => {
      await this.db.run('DELETE FROM meta WHERE key = $1', [key]);
      await this.db.run('INSERT INTO meta VALUES ($1, $2)', [key, value]);
    });
  }

  /** Every known file with the content hash, size and time it was indexed at. */
  fileStates(): Promise<Map<string, FileState>> {
    return this.using(async () => {
      const reader = await this.db.runAndReadAll(
        'SELECT path, blob, size, mtime_ms, indexed, chunk_count FROM documents',
      );
      const states = new Map<string, FileState>();
      for (const row of reader.getRowObjectsJS()) {
        states.set(asText(row.path), {
          blob: asText(row.blob),
          size: Number(row.size),
          mtimeMs: Number(row.mtime_ms),
          chunks: row.indexed === true ? Number(row.chunk_count ?? 0) : 0,
        });
      }
      return states;
    });
  }

  /**
   * Records one batch of index changes in one transaction. `recorded`: which of the batch's paths
   * the catalog holds records of (the writer's copy knows); only theirs are deleted first, each
   * delete being a scan of its table. Without it, every path's are.
   */
  apply(batch: {
    indexed: DocumentRecord[];
    rejected: RejectedRecord[];
    removed: string[];
    recorded?: (path: string) => boolean;
  }): Promise<void> {
    return this.using(async () => {
      const touched = [
        ...batch.indexed.map((d) => d.path),
        ...batch.rejected.map((r) => r.path),
        ...batch.removed,
      ];
      if (touched.length === 0) return;
      const stale = batch.recorded ? touched.filter(batch.recorded) : touched;
      await this.db.run('BEGIN TRANSACTION');
      try {
        for (let i = 0; i < stale.length; i += 500) {
          const list = stale.slice(i, i + 500);
          const placeholders = list.map((_, j) => `$${j + 1}`).join(', ');
          for (const table of ['documents', 'chunks', 'problems']) {
            await this.db.run(`DELETE FROM ${table} WHERE path IN (${placeholders})`, list);
          }
        }
        await this.appendDocuments(batch.indexed, batch.rejected);
        await this.db.run('COMMIT');
      } catch (error) {
        await this.db.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** Records a new size and time for files whose content did not change. */
  touch(files: { path: string; size: number; mtimeMs: number }[]): Promise<void> {
    return this.using(async () => {
      const statement = await this.db.prepare(
        'UPDATE documents SET size = $1, mtime_ms = $2 WHERE path = $3',
      );
      for (const file of files) {
        statement.bind([file.size, file.mtimeMs, file.path]);
        await statement.run();
      }
    });
  }

  clear(): Promise<void> {
    return this.using(async () => {
      await this.db.run('DELETE FROM documents; DELETE FROM chunks; DELETE FROM problems;');
    });
  }

  counts(): Promise<{ documents: number; chunks: number }> {
    return this.using(async () => {
      const reader = await this.db.runAndReadAll(
        'SELECT (SELECT count(*) FROM documents WHERE indexed) AS documents, (SELECT count(*) FROM chunks) AS chunks',
      );
      const row = reader.getRowObjectsJS()[0] ?? {};
      return { documents: Number(row.documents ?? 0), chunks: Number(row.chunks ?? 0) };
    });
  }

  problems(): Promise<Problem[]> {
    return this.using(async () => {
      const reader = await this.db.runAndReadAll(
        'SELECT path, line, "column", end_line, end_column, severity, message FROM problems ORDER BY path, line',
      );
      return reader.getRowObjectsJS().map((row) => ({
        path: asText(row.path),
        line: Number(row.line),
        column: Number(row.column),
        ...(row.end_line !== null ? { endLine: Number(row.end_line) } : {}),
        ...(row.end_column !== null ? { endColumn: Number(row.end_column) } : {}),
        severity: row.severity === 'warning' ? 'warning' : 'error',
        message: asText(row.message),
      }));
    });
  }

  /**
   * Closes the database once the queries in flight have finished: closing DuckDB under a running
   * query frees memory the query still uses, and crashes the process.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    this.db.closeSync();
    this.instance.closeSync();
  }

  /** Runs one public operation, refused once the catalog is closing, and waited for by close(). */
  private using<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the index catalog is closed'));
    const running = operation();
    this.pending.add(running);
    const forget = (): void => void this.pending.delete(running);
    running.then(forget, forget);
    return running;
  }

  private async appendDocuments(indexed: DocumentRecord[], rejected: RejectedRecord[]): Promise<void> {
    const now = Date.now();
    await this.withAppender('documents', (docs) => {
      for (const d of indexed) {
        appendRow(docs, [
          text(d.path),
          text(d.kind),
          text(d.blob),
          big(d.size),
          dbl(d.mtimeMs),
          bool(true),
          text(d.type),
          text(d.title),
          list(d.tags),
          text(d.date),
          text(d.reviewBy),
          text(d.frontmatter ? JSON.stringify(d.frontmatter) : null),
          int(d.chunks.length),
          dbl(now),
        ]);
      }
      for (const r of rejected) {
        appendRow(docs, [
          text(r.path),
          text(null),
          text(r.blob),
          big(r.size),
          dbl(r.mtimeMs),
          bool(false),
          text(null),
          text(null),
          list([]),
          text(null),
          text(null),
          text(null),
          int(0),
          dbl(now),
        ]);
      }
    });
    await this.withAppender('chunks', (chunks) => {
      for (const d of indexed) {
        for (const c of d.chunks) {
          appendRow(chunks, [
            text(`${d.path}#${c.chunk}`),
            text(d.path),
            int(c.chunk),
            int(c.startLine),
            int(c.endLine),
            text(c.heading),
            int(c.chars),
          ]);
        }
      }
    });
    await this.withAppender('problems', (problems) => {
      for (const p of [...indexed.flatMap((d) => d.problems), ...rejected.map((r) => r.problem)]) {
        appendRow(problems, [
          text(p.path),
          int(p.line),
          int(p.column),
          int(p.endLine ?? null),
          int(p.endColumn ?? null),
          text(p.severity),
          text(p.message),
        ]);
      }
    });
  }

  private async withAppender(table: string, fill: (appender: DuckDBAppender) => void): Promise<void> {
    const appender = await this.db.createAppender(table);
    try {
      fill(appender);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}

/** A VARCHAR cell as read back from DuckDB. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** One appender call; null values append NULL whatever the column's type. */
type Cell = (appender: DuckDBAppender) => void;

const text =
  (v: string | null): Cell =>
  (a) =>
    v === null ? a.appendNull() : a.appendVarchar(v);
const int =
  (v: number | null): Cell =>
  (a) =>
    v === null ? a.appendNull() : a.appendInteger(v);
const big =
  (v: number): Cell =>
  (a) =>
    a.appendBigInt(BigInt(Math.round(v)));
const dbl =
  (v: number): Cell =>
  (a) =>
    a.appendDouble(v);
const bool =
  (v: boolean): Cell =>
  (a) =>
    a.appendBoolean(v);
const list =
  (v: string[]): Cell =>
  (a) =>
    a.appendList(v, duckdb().LIST(duckdb().VARCHAR));

function appendRow(appender: DuckDBAppender, cells: Cell[]): void {
  for (const cell of cells) cell(appender);
  appender.endRow();
}
