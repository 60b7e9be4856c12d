/**
 * The search side of the index, in LanceDB: one row per chunk with its vector and the text for
 * LanceDB's native full-text (BM25) index. Owns the table's schema, its indexes and their upkeep.
 *
 * Two tables: the main one (`chunks`, everything up to the last fold) and a small one of the
 * newest writes (`chunks_recent`, recentChunks.ts). Saves go to the small one, which stays cheap to
 * search and to compact; it is folded into the main table in one write when it has grown or writes
 * pause, and the main table is compacted after several folds (by write volume) or when writes
 * pause. A search asks both and shows, for a path written since the fold, only its newest rows.
 * Full-text scores of the small table come from its own statistics, so until the next fold (a
 * few seconds after writes pause) a just-saved chunk's BM25 score is only roughly comparable.
 */
import { availableParallelism } from 'node:os';
import type * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import type { Logger } from '../../log';
import { chunkTable } from './chunkArrow';
import { chunkViews } from './chunkViews';
import { lance, loadLance } from './lanceModules';
import { RECENT_TABLE, RecentChunks } from './recentChunks';

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
/**
 * The columns a search reads: what it shows, and `mentions`, which the mention prior of the rerank
 * needs (without it no hit has a mention and that prior never applies).
 */
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
  'mentions',
];
/** Chunks read per note when search looks at a match's neighbours: a long note is cut. */
const MAX_CHUNKS_READ_PER_NOTE = 200;
/** Below this many rows an exhaustive vector scan is fast enough and exact; above, an IVF index. */
export const VECTOR_INDEX_MIN_ROWS = 20_000;
/**
 * IVF_FLAT: vectors grouped around 256 centroids, each probed partition scanned exactly. Measured
 * on the 100,000-chunk benchmark workspace: 96 probes find 82% of the exact top 10 in 5 ms (an
 * exhaustive scan takes 35-55 ms); it builds in 2-5 s. IVF_RQ and IVF_PQ found under 60% even
 * with refinement, and HNSW took 55 s to build.
 */
const VECTOR_PARTITIONS = 256;
export const VECTOR_PROBES = 96;
/** Batches this large go straight into the main table when nothing is held in the small one. */
const DIRECT_ROWS = 1_000;
/**
 * Rows per add to the main table. Each add is a fragment that every search opens until the next
 * compaction, so a batch of the indexer (1,024 notes, 5,000-6,000 chunks) is one add; the bound
 * only keeps the Arrow copy of a larger write (a rebuild's long notes) small.
 */
const ROWS_PER_ADD = 20_000;
/** The small table is folded into the main one when it holds this many chunks. */
const FOLD_ROWS = 2_000;
/**
 * The small table is also folded when it holds this many paths: the main table's rows of those it
 * has are hidden by a filter every search of it evaluates, and the small table is searched in memory.
 */
const FOLD_PATHS = 500;
/** Paths of the main table kept in memory (mainPaths, below): 200,000 notes, tens of MB at most. */
const MAIN_PATHS_KEPT = 200_000;
/** The main table is compacted after this many folds, even while writes go on. */
const OPTIMIZE_AFTER_FOLDS = 6;
const FTS_OPTIONS = {
  withPosition: false,
  stem: true,
  removeStopWords: true,
  language: 'English',
  asciiFolding: true,
};

/**
 * The paths whose newest rows are in the small table, as one search saw them when it started; a
 * fold waits until no search holds the previous view before it empties the small table.
 */
class RecentView {
  private readers = 0;
  private idle: (() => void) | null = null;

  constructor(readonly paths: ReadonlySet<string>) {}

  async read<T>(search: (view: RecentView) => Promise<T>): Promise<T> {
    this.readers++;
    try {
      return await search(this);
    } finally {
      if (--this.readers === 0) this.idle?.();
    }
  }

  get inUse(): boolean {
    return this.readers > 0;
  }

  /** Resolves once no search that started with this view is still running. */
  unused(): Promise<void> {
    if (this.readers === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }
}

export class ChunkIndex {
  private hasFtsIndex = false;
  /**
   * Whether the table had its full-text index when opened: only then can rows a daemon before this
   * one folded in lack from it (an index built here covers what the table held then).
   */
  foundIndexed = false;
  private hasVectorIndex = false;
  private readonly reads = new Set<Promise<unknown>>();
  /**
   * Every change to the table (rows, index builds, optimizations) runs one at a time: concurrent
   * LanceDB transactions conflict, and an index build racing a delete can resurrect deleted rows.
   */
  private changes: Promise<unknown> = Promise.resolve();
  /**
   * The compaction of the main table under way: it runs beside the writes, which meanwhile only
   * go to the small table (LanceDB abandons a compaction that a delete preempts), and no fold runs.
   */
  private optimizing: Promise<void> | null = null;
  /** The whole of optimize(), from the fold before it to the compaction's end. */
  private optimizeRun: Promise<'busy' | 'folded' | 'compacted'> | null = null;
  private foldsSinceOptimize = 0;
  private view: RecentView;
  /** Views replaced since the last fold: a fold waits until no search holds one (foldNow). */
  private readonly retired = new Set<RecentView>();
  /** The main table's schema, which rows are built in (chunkArrow.ts). */
  private readonly rowSchema: Schema;
  /**
   * Every path the main table may hold rows of, while that is known: from a table found or made
   * empty, each add records its paths. A delete of other paths is skipped: each is a scan of the
   * table, and a cold index deleted each batch's paths (none there) before adding them. Null once
   * it is unknown (a table that had rows when opened) or too large to keep: then deletes always run.
   */
  private mainPaths: Set<string> | null = null;

  private constructor(
    private readonly db: lancedb.Connection,
    private table: lancedb.Table,
    private recent: RecentChunks,
    readonly dimensions: number,
    private readonly log: Logger,
  ) {
    this.view = new RecentView(new Set(recent.paths()));
    this.rowSchema = schema(dimensions);
  }

  /** Opens (or creates) the chunk table in `dir`. Throws if the store cannot be read. */
  static async open(dir: string, dimensions: number, log: Logger): Promise<ChunkIndex> {
    // Lance sizes its CPU pool as cores minus 2: on a 2-core machine building a full-text index then
    // deadlocks (lancedb#3568, seen here at 100k rows). Read when the pool starts, so set it first.
    process.env.LANCE_CPU_THREADS ??= String(Math.max(2, availableParallelism()));
    // Bounded caches: LanceDB's defaults (6 GB of index cache) are sized for servers.
    const mb = (name: string, fallback: number): bigint =>
      BigInt(Number(process.env[name] ?? fallback) * 1024 * 1024);
    const { lancedb } = await loadLance();
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
    const recent = await openRecent(db, dimensions, built !== undefined && built !== dimensions);
    const index = new ChunkIndex(db, table, recent, dimensions, log);
    await index.verify();
    index.foundIndexed = index.hasFtsIndex;
    if ((await table.countRows()) === 0) index.mainPaths = new Set();
    // Rows of the small table's paths left in the main table by a crash (during a fold, or during
    // a compaction, when deletes wait) go now: the small table holds the newest.
    await index.deleteHidden(recent.paths());
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
    await this.recent.verify();
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
        .fullTextSearch(new (lance().lancedb.MatchQuery)('keel note', 'search_text'))
        .limit(1)
        .select(['id'])
        .toArray();
    }
    await this.recent.probe();
  }

  /** Chunks searchable now: the main table's, less those of paths rewritten since the fold. */
  countRows(): Promise<number> {
    return this.reading(this.countNow());
  }

  private async countNow(): Promise<number> {
    let hidden = 0;
    const paths = [...this.view.paths];
    for (let i = 0; i < paths.length; i += 500) {
      hidden += await this.table.countRows(
        `path IN (${paths
          .slice(i, i + 500)
          .map(sqlString)
          .join(', ')})`,
      );
    }
    return (await this.table.countRows()) - hidden + this.recent.rows;
  }

  /**
   * Replaces every chunk of `paths` by `rows` (rows of other paths are untouched). `onVisible` is
   * called once every search shows the new rows and none the old ones (filtered or not: the small
   * table's add has committed and the main table's older rows are hidden), before a fold.
   */
  replace(paths: string[], rows: ChunkRow[], onVisible?: () => void): Promise<void> {
    return this.serialized(() => this.replaceNow(paths, rows, onVisible));
  }

  private async replaceNow(paths: string[], rows: ChunkRow[], onVisible?: () => void): Promise<void> {
    // A first index, or a large batch with nothing in the small table (a rescan), goes straight in.
    const first = !this.hasFtsIndex;
    if ((first || rows.length >= DIRECT_ROWS) && this.recent.empty && !this.optimizing) {
      await this.rewrite(paths, rows);
      onVisible?.();
      return;
    }
    // The new rows first, then the old ones are hidden: a search meanwhile finds the old or the
    // new text (the same chunk once, the newest), never neither. The main table's rows of these
    // paths are not deleted now but at the next fold: a delete is a version of the main table
    // (with a deletion file every search reads until the next compaction) and costs 20-40 ms per
    // save; searches skip hidden paths' rows instead (merged(), below), as during a compaction.
    //
    // Only paths with rows in the main table are hidden there: each hidden path is one more entry in
    // the filter every search of the main table evaluates, and a new note has nothing to hide.
    // Which of them have rows is asked while the small table is written (a scan of the path
    // column, once per write instead of once per search).
    const unhidden = paths.filter((path) => !this.view.paths.has(path));
    const [hidden] = await Promise.all([this.inMain(unhidden), this.recent.write(paths, rows)]);
    if (hidden.length > 0) this.showView(new Set([...this.view.paths, ...hidden]));
    onVisible?.();
    if (this.recent.rows >= FOLD_ROWS || this.recent.pathCount >= FOLD_PATHS) await this.foldNow();
  }

  /** Which of `paths` have rows in the main table (a delete of a path it lacks still costs a commit). */
  private async inMain(paths: string[]): Promise<string[]> {
    if (paths.length === 0) return [];
    const present = new Set<string>();
    for (let i = 0; i < paths.length; i += 500) {
      const list = paths
        .slice(i, i + 500)
        .map(sqlString)
        .join(', ');
      const found = await this.table.query().where(`path IN (${list})`).select(['path']).toArray();
      for (const row of found as { path: string }[]) present.add(String(row.path));
    }
    return [...present];
  }

  private async deleteFromMain(all: string[]): Promise<void> {
    const known = this.mainPaths;
    const paths = known ? all.filter((path) => known.has(path)) : all;
    for (let i = 0; i < paths.length; i += 500) {
      await this.table.delete(
        `path IN (${paths
          .slice(i, i + 500)
          .map(sqlString)
          .join(', ')})`,
      );
    }
  }

  /** Deletes the main table's rows of `paths`, then adds `rows`. */
  private async rewrite(paths: string[], rows: ChunkRow[]): Promise<void> {
    await this.deleteFromMain(paths);
    for (let i = 0; i < rows.length; i += ROWS_PER_ADD) {
      const slice = rows.slice(i, i + ROWS_PER_ADD);
      // Recorded before the add: should the add fail half way, a later delete still runs.
      if (this.mainPaths) for (const row of slice) this.mainPaths.add(row.path);
      if (this.mainPaths && this.mainPaths.size > MAIN_PATHS_KEPT) this.mainPaths = null;
      await this.table.add(chunkTable(slice, this.rowSchema));
    }
  }

  /**
   * Deletes the main table's rows of paths written while it was compacted (or before a restart),
   * which searches hid meanwhile. Not during a compaction.
   */
  private async deleteHidden(paths: string[]): Promise<void> {
    await this.deleteFromMain(await this.inMain(paths));
    const deleted = new Set(paths);
    this.showView(new Set([...this.view.paths].filter((p) => !deleted.has(p))));
  }

  /**
   * Moves the small table's rows into the main one (not while the main table is being compacted).
   * A crash half way leaves rows in both, which the next open deletes from the main table.
   */
  private async foldNow(): Promise<boolean> {
    if (this.optimizing) return false;
    if (this.recent.empty) return true;
    const { rows, paths, upTo } = await this.recent.all();
    // Every path of the small table, hidden or not: after a crash the main table may hold rows of
    // a path that looked new (written to LanceDB, not yet to the catalog).
    await this.deleteHidden([...new Set([...this.view.paths, ...paths])]);
    await this.rewrite([], rows);
    // The first rows of a main table that had none: it gets its indexes now, before the small
    // table lets go of them.
    if (!this.hasFtsIndex) await this.buildIndexes();
    // A search that read the main table before the rows arrived must still find them here.
    this.showView(this.view.paths);
    await this.viewsUnused();
    await this.recent.forget(upTo);
    this.foldsSinceOptimize++;
    return true;
  }

  /** Searches from now on see `paths` hidden; those under way keep the view they started with. */
  private showView(paths: ReadonlySet<string>): void {
    for (const view of this.retired) if (!view.inUse) this.retired.delete(view);
    this.retired.add(this.view);
    this.view = new RecentView(paths);
  }

  /** Resolves once no search that started before the current view is still running. */
  private async viewsUnused(): Promise<void> {
    const retired = [...this.retired];
    this.retired.clear();
    await Promise.all(retired.map((view) => view.unused()));
  }

  clear(): Promise<void> {
    return this.serialized(() => this.clearNow());
  }

  private async clearNow(): Promise<void> {
    // Only the LanceDB call: the rest of optimize() waits for this queue.
    await this.optimizing?.catch(() => undefined);
    await this.recent.compacted();
    await this.db.dropTable(TABLE);
    this.table = await this.db.createEmptyTable(TABLE, schema(this.dimensions));
    this.mainPaths = new Set();
    this.recent.close();
    this.recent = await openRecent(this.db, this.dimensions, true);
    this.showView(new Set());
    this.hasFtsIndex = false;
    this.hasVectorIndex = false;
  }

  /** The nearest chunks by cosine similarity (dot product of unit vectors), best first. */
  vectorSearch(vector: Float32Array, limit: number, where: string | null): Promise<ChunkHit[]> {
    return this.reading(
      this.view.read(async (view) => {
        // Dot product equals cosine for unit vectors, and costs a third of it to scan.
        const asked = mainQuery(limit, where, view);
        let query = this.table.vectorSearch(vector).distanceType('dot').limit(asked.limit);
        if (this.hasVectorIndex) query = query.nprobes(VECTOR_PROBES);
        if (asked.where) query = query.where(asked.where);
        // Reading the shown columns along with the ranking costs about 1 ms at 100k chunks; reading
        // them afterwards by id costs 5-12 ms.
        const [main, recent] = await Promise.all([
          query.select([...DISPLAY_COLUMNS, '_distance']).toArrow(),
          this.recent.vectorSearch(vector, limit, where, DISPLAY_COLUMNS),
        ]);
        const hits = chunkViews(main, '_distance').map(({ view, value }) => ({ view, score: 1 - value }));
        return merged(hits, recent, view, (row) => 1 - Number(row._distance)).slice(0, limit);
      }),
    );
  }

  /** The best chunks by BM25, best first. */
  textSearch(text: string, limit: number, where: string | null): Promise<ChunkHit[]> {
    return this.reading(
      this.view.read(async (view) => {
        const match = new (lance().lancedb.MatchQuery)(text, 'search_text');
        const main = async (): Promise<ChunkHit[]> => {
          if (!this.hasFtsIndex) return [];
          const asked = mainQuery(limit, where, view);
          let query = this.table.query().fullTextSearch(match).limit(asked.limit);
          if (asked.where) query = query.where(asked.where);
          const answer = await query.select([...DISPLAY_COLUMNS, '_score']).toArrow();
          return chunkViews(answer, '_score').map(({ view, value }) => ({ view, score: value }));
        };
        const [hits, recent] = await Promise.all([
          main(),
          this.recent.textSearch(text, limit, where, DISPLAY_COLUMNS),
        ]);
        return merged(hits, recent, view, (row) => Number(row._score)).slice(0, limit);
      }),
    );
  }

  /** Every chunk of `paths` that matches `where`, in no particular order. */
  chunksAt(paths: string[], where: string | null): Promise<ChunkView[]> {
    if (paths.length === 0) return Promise.resolve([]);
    const byPath = `path IN (${paths.map(sqlString).join(', ')})`;
    const filter = where ? `(${where}) AND ${byPath}` : byPath;
    const limit = paths.length * MAX_CHUNKS_READ_PER_NOTE;
    return this.reading(
      this.view.read(async (view) => {
        const asked = mainQuery(limit, filter, view);
        const [main, recent] = await Promise.all([
          this.table.query().where(asked.where!).limit(asked.limit).select(DISPLAY_COLUMNS).toArrow(),
          this.recent.chunksWhere(filter, limit, DISPLAY_COLUMNS),
        ]);
        const hits = chunkViews(main).map(({ view }) => ({ view, score: 0 }));
        return merged(hits, recent, view, () => 0).map((hit) => hit.view);
      }),
    );
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
    if (options.optimize) await this.optimize({ full: true });
  }

  /**
   * Builds the indexes now if rows were written without them (the first batch of a new index goes
   * straight into the main table, which answers full-text searches only once its index exists).
   */
  async ensureIndexed(): Promise<void> {
    if (!this.hasFtsIndex) await this.maintain({ optimize: false });
  }

  private async needsIndexes(): Promise<boolean> {
    if (this.hasFtsIndex && this.hasVectorIndex) return false;
    const rows = await this.table.countRows();
    return rows > 0 && (!this.hasFtsIndex || rows >= VECTOR_INDEX_MIN_ROWS);
  }

  /**
   * Folds the small table into the main one; then, when `full` (writes paused) or after
   * OPTIMIZE_AFTER_FOLDS folds, compacts the main table and folds new rows into its indexes,
   * beside the writes. A full one also does when the indexes lack rows folded before this daemon
   * started. Resolves to what it did (`busy`: a compaction was already running).
   */
  optimize(options: { full: boolean }): Promise<'busy' | 'folded' | 'compacted'> {
    if (this.optimizeRun) return Promise.resolve('busy');
    const run = this.optimizeNow(options.full).finally(() => (this.optimizeRun = null));
    this.optimizeRun = run;
    return run;
  }

  private async optimizeNow(full: boolean): Promise<'busy' | 'folded' | 'compacted'> {
    // Started between two writes, so that none is half done meanwhile. (Wrapped: the queue of
    // writes must not wait for the compaction.)
    const { running } = await this.serialized(async () => {
      if (!(await this.foldNow())) return { running: 'busy' as const };
      const due = full
        ? this.foldsSinceOptimize > 0 || (this.hasFtsIndex && (await this.unindexedRows()) > 0)
        : this.foldsSinceOptimize >= OPTIMIZE_AFTER_FOLDS;
      if (!due) return { running: 'folded' as const };
      this.foldsSinceOptimize = 0;
      this.log.info('optimization of the search index started');
      const run = this.table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
      this.optimizing = run.then(() => undefined);
      return { running: this.optimizing };
    });
    if (typeof running === 'string') return running;
    try {
      await running;
    } finally {
      await this.serialized(async () => {
        this.optimizing = null;
        await this.deleteHidden([...this.view.paths]);
      });
    }
    return 'compacted';
  }

  /** Resolves once no optimization or compaction runs, of either table (whatever its outcome). */
  async whenOptimized(): Promise<void> {
    await this.optimizing?.catch(() => undefined);
    await this.optimizeRun?.catch(() => undefined);
    await this.recent.compacted();
  }

  private serialized<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.catch(() => undefined).then(change);
    this.changes = run;
    return run;
  }

  /**
   * The full-text index (and the filters' indexes after it) and the vector index are built side by
   * side: each leaves a core partly idle (after a cold index of 100,000 chunks, last batch to vector
   * index: 3.9-4.5 s, against 4.7-5.2 s one after the other). LanceDB commits each index as its own
   * version.
   */
  private async buildIndexes(): Promise<void> {
    const rows = await this.table.countRows();
    if (rows === 0) return;
    const builds: Promise<void>[] = [];
    if (!this.hasFtsIndex) builds.push(this.buildFullTextIndexes());
    if (!this.hasVectorIndex && rows >= VECTOR_INDEX_MIN_ROWS) builds.push(this.buildVectorIndex(rows));
    // Both settle before this returns (no build left running under the next change); the first
    // failure is the one reported.
    const failed = (await Promise.allSettled(builds)).find((build) => build.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async buildFullTextIndexes(): Promise<void> {
    await this.table.createIndex('search_text', { config: lance().lancedb.Index.fts(FTS_OPTIONS) });
    // Filters use these; at 100k chunks they halve a filtered search.
    await this.table.createIndex('path', { config: lance().lancedb.Index.btree() });
    await this.table.createIndex('type', { config: lance().lancedb.Index.bitmap() });
    await this.table.createIndex('date', { config: lance().lancedb.Index.btree() });
    await this.table.createIndex('tags', { config: lance().lancedb.Index.labelList() });
    this.hasFtsIndex = true;
  }

  private async buildVectorIndex(rows: number): Promise<void> {
    const started = Date.now();
    await this.table.createIndex('vector', {
      config: lance().lancedb.Index.ivfFlat({
        distanceType: 'dot',
        numPartitions: VECTOR_PARTITIONS,
        sampleRate: 64,
        maxIterations: 20,
      }),
    });
    this.hasVectorIndex = true;
    this.log.info('built the vector index', { rows, ms: Date.now() - started });
  }

  /**
   * Rows written since the indexes were last brought up to date (they are scanned, not looked up):
   * folded in since the last optimization, by this daemon or by one stopped before it optimized.
   * LanceDB tokenizes each such row again at every full-text query: 2,213 of them at 100,000
   * chunks made a text search 45-75 ms instead of 1-2.
   */
  unindexedRows(): Promise<number> {
    if (!this.hasFtsIndex) return this.reading(this.table.countRows());
    return this.reading(
      this.table.indexStats('search_text_idx').then((stats) => stats?.numUnindexedRows ?? 0),
    );
  }

  /** A read in flight: close() must not free the tables under it. */
  private reading<T>(read: Promise<T>): Promise<T> {
    this.reads.add(read);
    const done = (): void => void this.reads.delete(read);
    read.then(done, done);
    return read;
  }

  /**
   * Resolves once nothing runs on the tables: no optimization, no queued change, no search or
   * count. Closing LanceDB under a running native call is not safe, so close() comes after this.
   */
  async quiet(): Promise<void> {
    await this.whenOptimized();
    // A change that ends meanwhile may start the small table's compaction in the background: wait
    // until a round finds nothing new.
    for (;;) {
      const changes = this.changes;
      await changes.catch(() => undefined);
      await this.recent.compacted();
      await Promise.allSettled([...this.reads]);
      if (this.changes === changes) return;
    }
  }

  close(): void {
    this.recent.close();
    this.table.close();
    this.db.close();
  }
}

/** Opens the small table of the newest writes (`fresh`: dropped first, for a cleared index). */
async function openRecent(db: lancedb.Connection, dimensions: number, fresh: boolean): Promise<RecentChunks> {
  if (fresh && (await db.tableNames()).includes(RECENT_TABLE)) await db.dropTable(RECENT_TABLE);
  return RecentChunks.open(db, schema(dimensions), dimensions, FTS_OPTIONS);
}

/**
 * What to ask the main table: while paths are hidden in it, a filter leaves their rows out.
 * Asking for more rows and dropping theirs afterwards (up to 100 more, each read with its text)
 * cost searches a third of their throughput under steady saves (`npm run bench -- --only
 * concurrency`, 20k chunks: 0.27-0.36 of idle throughput, 0.52 with the filter).
 */
function mainQuery(
  limit: number,
  where: string | null,
  view: RecentView,
): { limit: number; where: string | null } {
  if (view.paths.size === 0) return { limit, where };
  const hidden = `path NOT IN (${[...view.paths].map(sqlString).join(', ')})`;
  return { limit, where: where ? `(${where}) AND ${hidden}` : hidden };
}

/**
 * One ranked list from both tables: the small table's rows (the newest write of each id), and
 * the main table's hits of paths not written since the fold; best score first.
 */
function merged(
  main: ChunkHit[],
  recent: Record<string, unknown>[],
  view: RecentView,
  score: (row: Record<string, unknown>) => number,
): ChunkHit[] {
  const newest = new Map<string, { hit: ChunkHit; seq: number }>();
  for (const row of recent) {
    const seq = Number(row.seq);
    const id = String(row.id);
    if ((newest.get(id)?.seq ?? -1) < seq)
      newest.set(id, { hit: { view: toView(row), score: score(row) }, seq });
  }
  const hits = [...newest.values()].map((entry) => entry.hit);
  for (const hit of main) {
    if (view.paths.has(hit.view.path) || newest.has(hit.view.id)) continue;
    hits.push(hit);
  }
  return hits.sort((a, b) => b.score - a.score);
}

/** The length of the table's vectors (undefined when it has no vector column). */
async function vectorSize(table: lancedb.Table): Promise<number | undefined> {
  const vector = (await table.schema()).fields.find((f) => f.name === 'vector');
  return (vector?.type as { listSize?: number } | undefined)?.listSize;
}

function schema(dimensions: number): Schema {
  const { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } = lance().arrow;
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
