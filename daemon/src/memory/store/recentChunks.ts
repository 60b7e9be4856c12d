/**
 * The newest chunks, in a small LanceDB table of their own beside the main one (`chunks`).
 *
 * Every write to a LanceDB table adds files that each search then opens and scans until the table
 * is compacted, and compacting the main table (LanceDB 0.31 rewrites every fragment smaller than a
 * million rows) takes a minute at 100,000 chunks on a busy 2-core machine. Saves therefore land
 * here: a table of a few thousand rows at most, compacted every few writes in milliseconds. The
 * main table takes them in one write now and then (a fold, chunkIndex.ts), so it grows by a file
 * per fold instead of one per save.
 *
 * A path written here has no rows in the main table (they are deleted after the write, or, while
 * the main table is being compacted, hidden until then and after a restart); a deleted path is
 * kept as a tombstone row (`chunk` -1, no text) so that this holds across a crash. `seq` orders
 * the writes: after a crash between adding a path's new rows and deleting its older ones, the
 * newest win on open.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { chunkTable } from './chunkArrow';
import { type ChunkRow } from './chunkIndex';
import { lance } from './lanceModules';
import { RecentInMemory } from './recentInMemory';

export const RECENT_TABLE = 'chunks_recent';
/** A deleted path: hides the main table's rows of it until the next fold. */
export const TOMBSTONE_CHUNK = -1;
/** Compacts the table (and folds new rows into its full-text index) after this many writes. */
const COMPACT_EVERY_WRITES = 8;

export type RecentRow = ChunkRow & { seq: number };

export class RecentChunks {
  private seq = 0;
  private writesSinceCompaction = 0;
  /** The compaction running in the background (write()), if any. */
  private compacting: Promise<void> | null = null;
  private hasFtsIndex = false;
  /** Paths that have rows (or a tombstone) here: the seq of their newest write, and its chunks. */
  private held = new Map<string, { seq: number; chunks: number }>();
  /** The same chunks in memory, where unfiltered searches read them (recentInMemory.ts). */
  private readonly memory = new RecentInMemory();

  private constructor(
    private readonly table: lancedb.Table,
    /** The table's schema: rows go to LanceDB as Arrow in it (chunkArrow.ts), not as objects. */
    private readonly schema: Schema,
    private readonly dimensions: number,
    private readonly ftsOptions: Partial<lancedb.FtsOptions>,
  ) {}

  static async open(
    db: lancedb.Connection,
    mainSchema: Schema,
    dimensions: number,
    ftsOptions: Partial<lancedb.FtsOptions>,
  ): Promise<RecentChunks> {
    const names = await db.tableNames();
    const schema = recentSchema(mainSchema);
    const table = names.includes(RECENT_TABLE)
      ? await db.openTable(RECENT_TABLE)
      : await db.createEmptyTable(RECENT_TABLE, schema);
    const recent = new RecentChunks(table, schema, dimensions, ftsOptions);
    await recent.load();
    return recent;
  }

  /** Reads what the table holds; drops rows a newer write of the same path superseded (a crash). */
  private async load(): Promise<void> {
    const indices = await this.table.listIndices();
    this.hasFtsIndex = indices.some((i) => i.columns.includes('search_text'));
    const rows = (await this.table.query().select(['path', 'chunk', 'seq']).toArray()) as {
      path: string;
      chunk: number;
      seq: number;
    }[];
    const newest = new Map<string, number>();
    for (const row of rows) {
      newest.set(String(row.path), Math.max(Number(row.seq), newest.get(String(row.path)) ?? -Infinity));
      this.seq = Math.max(this.seq, Number(row.seq) + 1);
    }
    const stale = rows.filter((r) => Number(r.seq) < newest.get(String(r.path))!);
    if (stale.length > 0) {
      const paths = [...new Set(stale.map((r) => String(r.path)))];
      for (const part of slices(paths, 200)) {
        const clauses = part.map((p) => `(path = ${sqlString(p)} AND seq < ${newest.get(p)!})`);
        await this.table.delete(clauses.join(' OR '));
      }
    }
    this.held = new Map();
    for (const row of rows) {
      const path = String(row.path);
      if (Number(row.seq) !== newest.get(path)) continue;
      const held = this.held.get(path) ?? { seq: Number(row.seq), chunks: 0 };
      if (Number(row.chunk) !== TOMBSTONE_CHUNK) held.chunks++;
      this.held.set(path, held);
    }
    this.memory.clear();
    if (this.held.size > 0) {
      const full = (await this.table.query().where(`chunk >= 0`).toArray()) as Record<string, unknown>[];
      const current = full.filter((row) => Number(row.seq) === newest.get(String(row.path)));
      this.memory.put(
        [],
        current.map((row) => ({ ...toChunkRow(row), seq: Number(row.seq) })),
      );
    }
  }

  /** Paths whose newest rows (or deletion) are here, not in the main table. */
  paths(): string[] {
    return [...this.held.keys()];
  }

  /** Paths whose newest rows (or deletion) are here. */
  get pathCount(): number {
    return this.held.size;
  }

  /** Chunks held (tombstones not counted). */
  get rows(): number {
    let chunks = 0;
    for (const held of this.held.values()) chunks += held.chunks;
    return chunks;
  }

  get empty(): boolean {
    return this.held.size === 0;
  }

  /**
   * Writes `rows` as the newest of `paths` (a path without rows is deleted: a tombstone), then
   * removes the older rows of those paths: a search meanwhile finds the old or the new text (the
   * caller keeps the newest of each id), never neither.
   *
   * The copy in memory changes first, so unfiltered searches (the search box, an agent's plain
   * question) find a save while LanceDB writes it: under a search every few milliseconds the add
   * took 6-16 ms of each save's way to search, more than everything else after the file event.
   * Filtered searches ask the table, which shows the older rows until the add commits. Should the
   * add fail, the copy goes back to what the table holds and the caller writes the batch again.
   */
  async write(paths: string[], rows: ChunkRow[]): Promise<void> {
    const seq = this.seq++;
    const chunks = new Map<string, number>(paths.map((path) => [path, 0]));
    for (const row of rows) chunks.set(row.path, (chunks.get(row.path) ?? 0) + 1);
    const added: RecentRow[] = rows.map((row) => ({ ...row, seq }));
    for (const [path, count] of chunks) if (count === 0) added.push(tombstone(path, seq, this.dimensions));
    const undo = this.memory.put(
      chunks.keys(),
      added.filter((row) => row.chunk !== TOMBSTONE_CHUNK),
    );
    try {
      // An append commits beside a compaction (it rewrites only the fragments it started with).
      if (added.length > 0) await this.table.add(chunkTable(added, this.schema));
    } catch (error) {
      undo();
      throw error;
    }
    const replaced = [...chunks.keys()].filter((p) => this.held.has(p));
    // A delete does not: LanceDB abandons the compaction it preempts.
    if (replaced.length > 0) await this.compacted();
    for (const part of slices(replaced, 500)) {
      await this.table.delete(`seq < ${seq} AND path IN (${part.map(sqlString).join(', ')})`);
    }
    for (const [path, count] of chunks) this.held.set(path, { seq, chunks: count });
    if (!this.hasFtsIndex && this.rows > 0) {
      await this.compacted();
      await this.table.createIndex('search_text', { config: lance().lancedb.Index.fts(this.ftsOptions) });
      this.hasFtsIndex = true;
    }
    if (++this.writesSinceCompaction >= COMPACT_EVERY_WRITES) this.compactInBackground();
  }

  /**
   * Starts a compaction unless one runs: a compaction takes 50-400 ms on a busy machine, and the
   * next save should not wait for it (the writes it compacts are already searchable).
   */
  private compactInBackground(): void {
    if (this.compacting) return;
    const run = this.compact().catch(() => {
      // Left for the next write to retry; a damaged table fails its next search or write,
      // which the index's health check reports and repairs.
      this.writesSinceCompaction = COMPACT_EVERY_WRITES;
    });
    this.compacting = run.finally(() => (this.compacting = null));
  }

  /** Resolves once no compaction runs in the background. */
  async compacted(): Promise<void> {
    await this.compacting;
  }

  /** Every row (with its vector) up to now, for a fold into the main table. */
  async all(): Promise<{ rows: ChunkRow[]; paths: string[]; upTo: number }> {
    const upTo = this.seq - 1;
    const rows = (await this.table.query().toArray()) as Record<string, unknown>[];
    const chunks: ChunkRow[] = [];
    for (const row of rows) {
      if (Number(row.chunk) === TOMBSTONE_CHUNK) continue;
      chunks.push(toChunkRow(row));
    }
    return { rows: chunks, paths: this.paths(), upTo };
  }

  /** Removes what a fold moved into the main table (rows written up to `upTo`). */
  async forget(upTo: number): Promise<void> {
    await this.compacted();
    await this.table.delete(`seq <= ${upTo}`);
    for (const [path, held] of this.held) if (held.seq <= upTo) this.held.delete(path);
    this.memory.forget(upTo);
    // In the background too: the fold that called this holds up every save until it returns.
    this.compactInBackground();
  }

  /** Compacts the table's files and brings its full-text index up to date (milliseconds here). */
  async compact(): Promise<void> {
    this.writesSinceCompaction = 0;
    await this.table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
  }

  async vectorSearch(
    vector: Float32Array,
    limit: number,
    where: string | null,
    columns: string[],
  ): Promise<Record<string, unknown>[]> {
    // Unfiltered: the copy in memory, which holds a save being written (write()) before the table does.
    if (where === null) return this.memory.vectorSearch(vector, limit, columns);
    if (this.held.size === 0) return [];
    const filter = `(${where}) AND chunk >= 0`;
    return (await this.table
      .vectorSearch(vector)
      .distanceType('dot')
      .where(filter)
      .limit(limit)
      .select([...columns, 'seq', '_distance'])
      .toArray()) as Record<string, unknown>[];
  }

  /** The held chunks that match `where` (at most `limit`). */
  async chunksWhere(where: string, limit: number, columns: string[]): Promise<Record<string, unknown>[]> {
    if (this.held.size === 0) return [];
    return (await this.table
      .query()
      .where(`(${where}) AND chunk >= 0`)
      .limit(limit)
      .select([...columns, 'seq'])
      .toArray()) as Record<string, unknown>[];
  }

  /** Unfiltered searches read the chunks in memory; filtered ones ask LanceDB (SQL filters). */
  async textSearch(
    text: string,
    limit: number,
    where: string | null,
    columns: string[],
  ): Promise<Record<string, unknown>[]> {
    if (where === null) return this.memory.textSearch(text, limit, columns);
    if (this.held.size === 0) return [];
    if (!this.hasFtsIndex) return [];
    const filter = `(${where}) AND chunk >= 0`;
    return (await this.table
      .query()
      .fullTextSearch(new (lance().lancedb.MatchQuery)(text, 'search_text'))
      .where(filter)
      .limit(limit)
      .select([...columns, 'seq', '_score'])
      .toArray()) as Record<string, unknown>[];
  }

  /** Reads the table and its index: fails if the files are damaged. */
  async verify(): Promise<void> {
    await this.table.listIndices();
    await this.table.query().select(['id']).limit(1).toArray();
    await this.table.countRows();
  }

  /** A health check after a failure: reads every row's vector and the full-text index. */
  async probe(): Promise<void> {
    await this.verify();
    await this.table.query().select(['id', 'vector']).toArray();
    if (this.hasFtsIndex) {
      await this.table
        .query()
        .fullTextSearch(new (lance().lancedb.MatchQuery)('keel note', 'search_text'))
        .limit(1)
        .select(['id'])
        .toArray();
    }
  }

  close(): void {
    this.table.close();
  }
}

function recentSchema(main: Schema): Schema {
  const { Field, Int32, Schema } = lance().arrow;
  return new Schema([...main.fields, new Field('seq', new Int32(), false)]);
}

function tombstone(path: string, seq: number, dimensions: number): RecentRow {
  return {
    id: `${path}#deleted`,
    path,
    chunk: TOMBSTONE_CHUNK,
    start_line: 0,
    end_line: 0,
    heading: '',
    text: '',
    search_text: '',
    type: null,
    tags: [],
    date: null,
    review_by: null,
    mentions: [],
    vector: new Float32Array(dimensions),
    seq,
  };
}

function toChunkRow(row: Record<string, unknown>): ChunkRow {
  const list = (value: unknown): string[] => {
    if (value === null || value === undefined) return [];
    if (Array.isArray(value)) return value.map(String);
    const arrow = value as { toArray?: () => unknown[] };
    return arrow.toArray ? arrow.toArray().map(String) : [];
  };
  const vector = row.vector as { toArray?: () => Float32Array } | Float32Array;
  return {
    id: String(row.id),
    path: String(row.path),
    chunk: Number(row.chunk),
    start_line: Number(row.start_line),
    end_line: Number(row.end_line),
    heading: String(row.heading),
    text: String(row.text),
    search_text: String(row.search_text),
    type: (row.type as string | null) ?? null,
    tags: list(row.tags),
    date: (row.date as string | null) ?? null,
    review_by: (row.review_by as string | null) ?? null,
    mentions: list(row.mentions),
    vector: vector instanceof Float32Array ? vector : Float32Array.from(vector.toArray!()),
  };
}

function* slices<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
