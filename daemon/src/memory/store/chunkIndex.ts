/**
 * The search side of the index, in LanceDB: one row per chunk with its vector and the text for
 * LanceDB's native full-text (BM25) index. Owns the table's schema, its indexes and their upkeep.
 */
import { availableParallelism } from 'node:os';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from 'apache-arrow';
import type { Logger } from '../../log';

export interface ChunkRow {
  id: string;
  path: string;
  chunk: number;
  start_line: number;
  end_line: number;
  heading: string;
  /** The chunk as written, shown to the reader. */
  text: string;
  /** What the full-text index sees: the text plus the note's searchable fields. */
  search_text: string;
  type: string | null;
  tags: string[];
  /** YYYY-MM-DD */
  date: string | null;
  review_by: string | null;
  /** The note's short frontmatter values, normalised, for the mention prior (rerank.ts). */
  mentions: string[];
  vector: Float32Array;
}

/** What a search shows of a chunk: every column but the vector and the indexed text. */
export type ChunkView = Omit<ChunkRow, 'vector' | 'search_text'>;

/** One ranked list's entry: what a search shows of the chunk, and the list's own score. */
export interface ChunkHit {
  view: ChunkView;
  score: number;
}

const TABLE = 'chunks';
export const DISPLAY_COLUMNS = [
  'id',
  'path',
  'chunk',
  'start_line',
  'end_line',
  'heading',
  'text',
  'type',
  'tags',
  'date',
  'review_by',
];
/** Below this many rows an exhaustive vector scan is fast enough and exact; above, an IVF index. */
export const VECTOR_INDEX_MIN_ROWS = 20_000;
/**
 * IVF_FLAT: vectors grouped around 256 centroids, each probed partition scanned exactly. Measured
 * on the 100,000-chunk benchmark workspace: 96 probes find 82% of the exact top 10 in 5 ms (an
 * exhaustive scan takes 35-55 ms); it builds in 2-5 s. IVF_RQ and IVF_PQ found under 60% even
 * with refinement, and HNSW took 55 s to build.
 */
const VECTOR_PARTITIONS = 256;
const VECTOR_PROBES = 96;
const FTS_OPTIONS = {
  withPosition: false,
  stem: true,
  removeStopWords: true,
  language: 'English',
  asciiFolding: true,
};

export class ChunkIndex {
  private hasFtsIndex = false;
  private hasVectorIndex = false;
  /**
   * Every change to the table (rows, index builds, optimizations) runs one at a time: concurrent
   * LanceDB transactions conflict, and an index build racing a delete can resurrect deleted rows.
   */
  private changes: Promise<unknown> = Promise.resolve();
  /** The optimization under way: it runs beside the writes, which then only append (below). */
  private optimizing: Promise<void> | null = null;
  /** The whole of optimize(), from waiting for its turn to the deletes that follow it. */
  private optimizeRun: Promise<boolean> | null = null;
  /**
   * Paths written while an optimization runs, with their newest rows. Their older rows are still in
   * the table (a delete would preempt the compaction, which LanceDB then abandons); searches hide
   * them, and they are deleted once the optimization has committed.
   */
  private readonly superseded = new Map<string, ChunkRow[]>();

  private constructor(
    private readonly db: lancedb.Connection,
    private table: lancedb.Table,
    readonly dimensions: number,
    private readonly log: Logger,
  ) {}

  /** Opens (or creates) the chunk table in `dir`. Throws if the store cannot be read. */
  static async open(dir: string, dimensions: number, log: Logger): Promise<ChunkIndex> {
    // Lance sizes its CPU pool as cores minus 2: on a 2-core machine building a full-text index then
    // deadlocks (lancedb#3568, seen here at 100k rows). Read when the pool starts, so set it first.
    process.env.LANCE_CPU_THREADS ??= String(Math.max(2, availableParallelism()));
    // Bounded caches: LanceDB's defaults (6 GB of index cache) are sized for servers.
    const mb = (name: string, fallback: number): bigint =>
      BigInt(Number(process.env[name] ?? fallback) * 1024 * 1024);
    const session = new lancedb.Session(
      mb('KEEL_LANCE_INDEX_CACHE_MB', 64),
      mb('KEEL_LANCE_META_CACHE_MB', 16),
    );
    const db = await lancedb.connect(dir, {}, session);
    const names = await db.tableNames();
    let table = names.includes(TABLE)
      ? await db.openTable(TABLE)
      : await db.createEmptyTable(TABLE, schema(dimensions));
    const built = await vectorSize(table);
    if (built !== undefined && built !== dimensions) {
      // Built by an embedder of another size: the settings changed, nothing is damaged (a repair
      // would quarantine the table and report it). The caller sees the new embedder id and clears
      // the catalog to match.
      log.info('the embedder changed size; recreating the search index', { from: built, to: dimensions });
      await db.dropTable(TABLE);
      table = await db.createEmptyTable(TABLE, schema(dimensions));
    }
    const index = new ChunkIndex(db, table, dimensions, log);
    await index.verify();
    return index;
  }

  /** Reads the table's schema, its indexes and one row: fails if the files are damaged. */
  async verify(): Promise<void> {
    const size = await vectorSize(this.table);
    if (size !== this.dimensions) {
      throw new Error(
        `the chunk table holds ${String(size)}-dimensional vectors, the embedder makes ${this.dimensions}`,
      );
    }
    const indices = await this.table.listIndices();
    this.hasFtsIndex = indices.some((i) => i.columns.includes('search_text'));
    this.hasVectorIndex = indices.some((i) => i.columns.includes('vector'));
    await this.table.query().select(['id']).limit(1).toArray();
    await this.table.countRows();
  }

  /**
   * A health check after a failure: reads every vector (an exhaustive scan) and the full-text
   * index, so a truncated data or index file fails here even when the failed query was a user's.
   */
  async probe(): Promise<void> {
    await this.verify();
    const vector = new Float32Array(this.dimensions);
    vector[0] = 1;
    await this.table
      .vectorSearch(vector)
      .distanceType('dot')
      .bypassVectorIndex()
      .limit(1)
      .select(['id'])
      .toArray();
    if (this.hasFtsIndex) {
      await this.table
        .query()
        .fullTextSearch(new lancedb.MatchQuery('keel note', 'search_text'))
        .limit(1)
        .select(['id'])
        .toArray();
    }
  }

  async countRows(): Promise<number> {
    return this.table.countRows();
  }

  /** Replaces every chunk of `paths` by `rows` (rows of other paths are untouched). */
  replace(paths: string[], rows: ChunkRow[]): Promise<void> {
    return this.serialized(() => this.replaceNow(paths, rows));
  }

  private async replaceNow(paths: string[], rows: ChunkRow[]): Promise<void> {
    if (this.optimizing) return this.appendBeside(paths, rows);
    await this.rewrite(paths, rows);
  }

  /** During an optimization: appends only, and remembers which paths' older rows to hide and delete. */
  private async appendBeside(paths: string[], rows: ChunkRow[]): Promise<void> {
    const present = new Set<string>();
    for (let i = 0; i < paths.length; i += 500) {
      const list = paths
        .slice(i, i + 500)
        .map(sqlString)
        .join(', ');
      const found = await this.table.query().where(`path IN (${list})`).select(['path']).toArray();
      for (const row of found as { path: string }[]) present.add(String(row.path));
    }
    const byPath = new Map<string, ChunkRow[]>(paths.map((path) => [path, []]));
    for (const row of rows) byPath.get(row.path)?.push(row);
    for (const [path, newest] of byPath) {
      if (present.has(path) || this.superseded.has(path)) this.superseded.set(path, newest);
    }
    for (let i = 0; i < rows.length; i += 5_000) {
      await this.table.add(rows.slice(i, i + 5_000) as unknown as Record<string, unknown>[]);
    }
  }

  /** Deletes the rows of `paths` (and of paths superseded meanwhile), then adds `rows` and theirs. */
  private async rewrite(given: string[], givenRows: ChunkRow[]): Promise<void> {
    const paths = [...new Set([...given, ...this.superseded.keys()])];
    const rows = [...givenRows];
    for (const [path, newest] of this.superseded) if (!given.includes(path)) rows.push(...newest);
    for (let i = 0; i < paths.length; i += 500) {
      const list = paths
        .slice(i, i + 500)
        .map(sqlString)
        .join(', ');
      await this.table.delete(`path IN (${list})`);
    }
    for (let i = 0; i < rows.length; i += 5_000) {
      await this.table.add(rows.slice(i, i + 5_000) as unknown as Record<string, unknown>[]);
    }
    this.superseded.clear();
  }

  clear(): Promise<void> {
    return this.serialized(() => this.clearNow());
  }

  private async clearNow(): Promise<void> {
    // Only the LanceDB call: the rest of optimize() waits for this queue.
    await this.optimizing?.catch(() => undefined);
    this.superseded.clear();
    await this.db.dropTable(TABLE);
    this.table = await this.db.createEmptyTable(TABLE, schema(this.dimensions));
    this.hasFtsIndex = false;
    this.hasVectorIndex = false;
  }

  /** The nearest chunks by cosine similarity (dot product of unit vectors), best first. */
  async vectorSearch(vector: Float32Array, limit: number, where: string | null): Promise<ChunkHit[]> {
    // Dot product equals cosine for unit vectors, and costs a third of it to scan.
    let query = this.table.vectorSearch(vector).distanceType('dot').limit(this.widened(limit));
    if (this.hasVectorIndex) query = query.nprobes(VECTOR_PROBES);
    if (where) query = query.where(where);
    // Reading the shown columns along with the ranking costs about 1 ms at 100k chunks; reading
    // them afterwards by id costs 5-12 ms.
    const rows = await query.select([...DISPLAY_COLUMNS, '_distance']).toArray();
    const hits = rows.map((row: Record<string, unknown>) => ({
      view: toView(row),
      score: 1 - Number(row._distance),
    }));
    return this.current(hits).slice(0, limit);
  }

  /** The best chunks by BM25, best first. */
  async textSearch(text: string, limit: number, where: string | null): Promise<ChunkHit[]> {
    if (!this.hasFtsIndex) return [];
    let query = this.table
      .query()
      .fullTextSearch(new lancedb.MatchQuery(text, 'search_text'))
      .limit(this.widened(limit));
    if (where) query = query.where(where);
    const rows = await query.select([...DISPLAY_COLUMNS, '_score']).toArray();
    const hits = rows.map((row: Record<string, unknown>) => ({
      view: toView(row),
      score: Number(row._score),
    }));
    return this.current(hits).slice(0, limit);
  }

  /** Asks for more while superseded rows are still in the table: they are dropped from the answer. */
  private widened(limit: number): number {
    return this.superseded.size === 0 ? limit : limit + Math.min(100, limit + this.superseded.size);
  }

  /** Drops the older rows of paths rewritten during an optimization (each id once, newest text). */
  private current(hits: ChunkHit[]): ChunkHit[] {
    if (this.superseded.size === 0) return hits;
    const seen = new Set<string>();
    return hits.filter(({ view }) => {
      const newest = this.superseded.get(view.path);
      if (!newest) return true;
      if (seen.has(view.id)) return false;
      const row = newest.find((r) => r.id === view.id);
      if (!row || row.text !== view.text || row.heading !== view.heading) return false;
      seen.add(view.id);
      return true;
    });
  }

  /**
   * Keeps search fast as the table grows: builds the full-text index once there are rows, a
   * vector index past VECTOR_INDEX_MIN_ROWS, and folds new rows into both.
   */
  async maintain(options: { optimize: boolean }): Promise<void> {
    // An index built beside a running optimization could race it: wait for it, then build.
    while (await this.needsIndexes()) {
      await this.whenOptimized();
      const built = await this.serialized(async () => {
        if (this.optimizing) return false;
        await this.buildIndexes();
        return true;
      });
      if (built) break;
    }
    if (options.optimize) await this.optimize();
  }

  private async needsIndexes(): Promise<boolean> {
    if (this.hasFtsIndex && this.hasVectorIndex) return false;
    const rows = await this.table.countRows();
    return rows > 0 && (!this.hasFtsIndex || rows >= VECTOR_INDEX_MIN_ROWS);
  }

  /**
   * Compacts the files and folds new rows into the indexes, beside the writes: while it runs,
   * writes only append (LanceDB abandons a compaction that a delete preempts), searches hide the
   * rows those appends supersede, and the deletes follow once it has committed. Resolves to
   * whether it ran (false when one was already running).
   */
  optimize(): Promise<boolean> {
    if (this.optimizeRun) return Promise.resolve(false);
    this.log.info('optimization of the search index started');
    const run = this.optimizeNow().finally(() => (this.optimizeRun = null));
    this.optimizeRun = run;
    return run;
  }

  private async optimizeNow(): Promise<boolean> {
    // Started between two writes, so that none is half done (deleted, not yet added) meanwhile.
    // (Wrapped: the queue of writes must not wait for it.)
    const { running } = await this.serialized(() => {
      const run = this.table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
      this.optimizing = run.then(() => undefined);
      return Promise.resolve({ running: this.optimizing });
    });
    try {
      await running;
    } finally {
      await this.serialized(async () => {
        this.optimizing = null;
        await this.rewrite([], []);
      });
    }
    return true;
  }

  /** Resolves once no optimization runs (whatever its outcome). */
  async whenOptimized(): Promise<void> {
    await this.optimizing?.catch(() => undefined);
    await this.optimizeRun?.catch(() => undefined);
  }

  private serialized<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.catch(() => undefined).then(change);
    this.changes = run;
    return run;
  }

  private async buildIndexes(): Promise<void> {
    const rows = await this.table.countRows();
    if (rows === 0) return;
    if (!this.hasFtsIndex) {
      await this.table.createIndex('search_text', { config: lancedb.Index.fts(FTS_OPTIONS) });
      // Filters use these; at 100k chunks they halve a filtered search.
      await this.table.createIndex('path', { config: lancedb.Index.btree() });
      await this.table.createIndex('type', { config: lancedb.Index.bitmap() });
      await this.table.createIndex('date', { config: lancedb.Index.btree() });
      await this.table.createIndex('tags', { config: lancedb.Index.labelList() });
      this.hasFtsIndex = true;
    }
    if (!this.hasVectorIndex && rows >= VECTOR_INDEX_MIN_ROWS) {
      const started = Date.now();
      await this.table.createIndex('vector', {
        config: lancedb.Index.ivfFlat({
          distanceType: 'dot',
          numPartitions: VECTOR_PARTITIONS,
          sampleRate: 64,
          maxIterations: 20,
        }),
      });
      this.hasVectorIndex = true;
      this.log.info('built the vector index', { rows, ms: Date.now() - started });
    }
  }

  /** Rows written since the indexes were last brought up to date (they are scanned, not looked up). */
  async unindexedRows(): Promise<number> {
    if (!this.hasFtsIndex) return this.table.countRows();
    const stats = await this.table.indexStats('search_text_idx');
    return stats?.numUnindexedRows ?? 0;
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}

/** The length of the table's vectors (undefined when it has no vector column). */
async function vectorSize(table: lancedb.Table): Promise<number | undefined> {
  const vector = (await table.schema()).fields.find((f) => f.name === 'vector');
  return (vector?.type as { listSize?: number } | undefined)?.listSize;
}

function schema(dimensions: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('chunk', new Int32(), false),
    new Field('start_line', new Int32(), false),
    new Field('end_line', new Int32(), false),
    new Field('heading', new Utf8(), false),
    new Field('text', new Utf8(), false),
    new Field('search_text', new Utf8(), false),
    new Field('type', new Utf8(), true),
    new Field('tags', new List(new Field('item', new Utf8(), true)), false),
    new Field('date', new Utf8(), true),
    new Field('review_by', new Utf8(), true),
    new Field('mentions', new List(new Field('item', new Utf8(), true)), false),
    new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), false),
  ]);
}

function toView(row: Record<string, unknown>): ChunkView {
  return {
    id: String(row.id),
    path: String(row.path),
    chunk: Number(row.chunk),
    start_line: Number(row.start_line),
    end_line: Number(row.end_line),
    heading: String(row.heading),
    text: String(row.text),
    type: (row.type as string | null) ?? null,
    tags: arrayOf(row.tags),
    date: (row.date as string | null) ?? null,
    review_by: (row.review_by as string | null) ?? null,
    mentions: arrayOf(row.mentions),
  };
}

function arrayOf(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  const list = value as { toArray?: () => unknown[] };
  return list.toArray ? list.toArray().map(String) : [];
}

/** A SQL string literal for LanceDB filters. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
