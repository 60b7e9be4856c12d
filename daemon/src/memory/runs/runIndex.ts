/**
 * Finished runs in LanceDB: one row per run (`run:<id>`), with its vector and the text for
 * LanceDB's full-text (BM25) index, in a table of its own (`.keel/runmem/`).
 *
 * Its own table, not rows of the notes' `chunks` table: the notes' index is a projection of the
 * workspace files (reconciled against them, folded, quarantined and rebuilt from them on damage),
 * and a run is no file; a run row there would be deleted by the next reconciliation or lost by a
 * repair. Here the journals are the source, and the catch-up (runMemory.ts) refills a fresh table.
 * The table stays small (one row per run), so an exhaustive vector scan is exact and fast.
 */
import { mkdir, rm } from 'node:fs/promises';
import type * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { resolveTimeBound, type SearchFilter } from '@keel/schemas';
import { lance, loadLance } from '../store/lanceModules';
import { sqlString } from '../store/chunkIndex';
import type { Logger } from '../../log';
import { RUN_ID_PREFIX, type RunDocument } from './runDocument';

const TABLE = 'runs';
const COLUMNS = ['id', 'run_id', 'runbook', 'status', 'ended_at', 'date', 'text'];
const FTS_OPTIONS = {
  withPosition: false,
  stem: true,
  removeStopWords: true,
  language: 'English',
  asciiFolding: true,
};

export interface RunRow {
  runId: string;
  runbook: string;
  status: string;
  endedAt: string;
  date: string;
  text: string;
}

export interface RunHit {
  row: RunRow;
  score: number;
}

/** Writes between two compactions: each write adds a LanceDB version and fragment. */
const COMPACT_AFTER_WRITES = 32;

export class RunIndex {
  /** Every change runs one at a time: concurrent LanceDB transactions conflict. */
  private changes: Promise<unknown> = Promise.resolve();
  private ftsStale = true;
  private writesSinceCompaction = 0;

  private constructor(
    private readonly table: lancedb.Table,
    readonly dimensions: number,
    /** The runs in the table: only this index writes it, so a delete is sent only for rows there. */
    private readonly indexed: Set<string>,
    private readonly log: Logger,
  ) {}

  /**
   * Opens (or creates) the run table. A table built by an embedder of another size, or one that
   * does not read, is dropped and made again: the journals refill it.
   */
  static async open(dir: string, dimensions: number, log: Logger): Promise<RunIndex> {
    const { lancedb } = await loadLance();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const attempt = async (): Promise<RunIndex> => {
      const db = await lancedb.connect(dir);
      const names = await db.tableNames();
      let table = names.includes(TABLE) ? await db.openTable(TABLE) : null;
      if (table && (await vectorSize(table)) !== dimensions) {
        await db.dropTable(TABLE);
        table = null;
      }
      table ??= await db.createEmptyTable(TABLE, schema(dimensions));
      const rows = (await table.query().select(['run_id']).toArray()) as { run_id: string }[];
      return new RunIndex(table, dimensions, new Set(rows.map((row) => String(row.run_id))), log);
    };
    try {
      return await attempt();
    } catch {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return attempt();
    }
  }

  /** The ids of the runs in the table. */
  runIds(): Promise<Set<string>> {
    return this.change(() => Promise.resolve(new Set(this.indexed)));
  }

  /**
   * Adds or replaces runs' rows, all in one write: a run ends every few milliseconds under load,
   * and one LanceDB version per run would leave thousands of fragments for every search to open.
   */
  upsert(entries: readonly { document: RunDocument; vector: Float32Array }[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.change(async () => {
      const replaced = entries.map((e) => e.document.runId).filter((id) => this.indexed.has(id));
      if (replaced.length > 0) await this.table.delete(runIdIn(replaced));
      for (const id of replaced) this.indexed.delete(id);
      await this.table.add(
        entries.map(({ document, vector }) => ({
          id: `${RUN_ID_PREFIX}${document.runId}`,
          run_id: document.runId,
          runbook: document.runbook,
          status: document.status,
          ended_at: document.endedAt,
          date: document.date,
          text: document.text,
          search_text: `${document.runbook} ${document.status}\n${document.text}`,
          vector,
        })),
      );
      for (const { document } of entries) this.indexed.add(document.runId);
      await this.written();
    });
  }

  remove(runIds: readonly string[]): Promise<void> {
    return this.change(async () => {
      const present = runIds.filter((id) => this.indexed.has(id));
      if (present.length === 0) return;
      await this.table.delete(runIdIn(present));
      for (const id of present) this.indexed.delete(id);
      await this.written();
    });
  }

  /** The nearest runs by cosine similarity, best first. */
  async vectorSearch(vector: Float32Array, limit: number, where: string | null): Promise<RunHit[]> {
    let query = this.table.vectorSearch(vector).distanceType('dot').limit(limit);
    if (where) query = query.where(where);
    const rows = (await query.select([...COLUMNS, '_distance']).toArray()) as Record<string, unknown>[];
    return rows.map((row) => ({ row: toRow(row), score: 1 - Number(row._distance) }));
  }

  /** The best runs by BM25, best first. */
  async textSearch(text: string, limit: number, where: string | null): Promise<RunHit[]> {
    if (this.indexed.size === 0) return [];
    await this.freshFullText();
    const match = new (lance().lancedb.MatchQuery)(text, 'search_text');
    let query = this.table.query().fullTextSearch(match).limit(limit);
    if (where) query = query.where(where);
    const rows = (await query.select([...COLUMNS, '_score']).toArray()) as Record<string, unknown>[];
    return rows.map((row) => ({ row: toRow(row), score: Number(row._score) }));
  }

  close(): void {
    this.table.close();
  }

  /** Rebuilds the full-text index after writes: one row per run keeps the rebuild cheap. */
  private freshFullText(): Promise<void> {
    if (!this.ftsStale) return Promise.resolve();
    return this.change(async () => {
      if (!this.ftsStale) return;
      const config = lance().lancedb.Index.fts(FTS_OPTIONS);
      await this.table.createIndex('search_text', { config, replace: true });
      this.ftsStale = false;
    });
  }

  /**
   * After each write: the full-text index is rebuilt before the next text search, and every few
   * writes the table's fragments are merged and its old versions removed.
   */
  private async written(): Promise<void> {
    this.ftsStale = true;
    if (++this.writesSinceCompaction < COMPACT_AFTER_WRITES) return;
    this.writesSinceCompaction = 0;
    // The rows are written either way: a compaction that fails is tried again 32 writes later.
    await this.table
      .optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) })
      .catch((error: unknown) =>
        this.log.debug('compacting the run index failed; tried again after more writes', { error }),
      );
  }

  private change<T>(work: () => Promise<T>): Promise<T> {
    const next = this.changes.then(work, work);
    this.changes = next.catch(() => undefined);
    return next;
  }
}

function runIdIn(runIds: readonly string[]): string {
  return `run_id IN (${runIds.map(sqlString).join(', ')})`;
}

/** The date bounds of a filter as a `where` clause on the run's end day, or null for none. */
export function runFilterSql(filter: SearchFilter | undefined, now: Date): string | null {
  if (!filter) return null;
  const clauses: string[] = [];
  const from = [filter.dateFrom, filter.since && resolveTimeBound(filter.since, now)];
  const to = [filter.dateTo, filter.until && resolveTimeBound(filter.until, now)];
  for (const day of from) if (day) clauses.push(`date >= ${sqlString(day)}`);
  for (const day of to) if (day) clauses.push(`date <= ${sqlString(day)}`);
  return clauses.length > 0 ? clauses.join(' AND ') : null;
}

async function vectorSize(table: lancedb.Table): Promise<number | undefined> {
  const vector = (await table.schema()).fields.find((f) => f.name === 'vector');
  return (vector?.type as { listSize?: number } | undefined)?.listSize;
}

function schema(dimensions: number): Schema {
  const { Field, FixedSizeList, Float32, Schema, Utf8 } = lance().arrow;
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('run_id', new Utf8(), false),
    new Field('runbook', new Utf8(), false),
    new Field('status', new Utf8(), false),
    new Field('ended_at', new Utf8(), false),
    new Field('date', new Utf8(), false),
    new Field('text', new Utf8(), false),
    new Field('search_text', new Utf8(), false),
    new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), false),
  ]);
}

function toRow(row: Record<string, unknown>): RunRow {
  return {
    runId: String(row.run_id),
    runbook: String(row.runbook),
    status: String(row.status),
    endedAt: String(row.ended_at),
    date: String(row.date),
    text: String(row.text),
  };
}
