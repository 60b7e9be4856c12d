/**
 * The index's one writer. File-change hints (from the watcher or a rescan) go into a queue that
 * coalesces them per path; a single loop takes them in batches, has each prepared (indexBatch.ts:
 * read, hash, skip the unchanged, parse and embed the rest) while the previous one is written, and
 * writes LanceDB first, then the DuckDB catalog, so a crash in between only makes the next rescan
 * redo that batch.
 */
import type { Problem } from '@keel/schemas';
import type { Logger } from '../log';
import type { Embedder } from './embed/embedder';
import { prepareBatch, type PreparedBatch } from './indexBatch';
import type { FilePreparer } from './prepare';
import type { Catalog, FileState } from './store/catalog';
import type { ChunkIndex } from './store/chunkIndex';

export interface IndexerDeps {
  root: string;
  chunkIndex: ChunkIndex;
  catalog: Catalog;
  embedder: Embedder;
  log: Logger;
  /** Parses (and with the local embedder, embeds) each file; the daemon's runs on its worker. */
  preparer?: FilePreparer;
  /** Whether the preparer computes the vectors (it runs the same local embedder as `embedder`). */
  embedInPreparer?: boolean;
  /** Called after each batch is written, and when the queue's size changes. */
  onProgress: () => void;
  /**
   * Called when writing a batch failed (`attempt` failures in a row): `retry` keeps the batch
   * queued and tries again after a backoff; `abandon` leaves it to the caller (a repair).
   */
  onWriteFailed?: (error: Error, attempt: number) => Promise<'retry' | 'abandon'>;
  /** Whether searches are waiting for a turn: then steady saves are written together (below). */
  searchesBusy?: () => boolean;
}

/** Why a caller waiting for paths to be written is let go when the writer stops. */
const REPLACED = 'the index is being replaced; try again once it is back';

/** Retries of a failed write wait 1 s, 2 s, 4 s ... up to this long. */
export const RETRY_MAX_MS = 30_000;

export function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MAX_MS, 1000 * 2 ** Math.max(0, attempt - 1));
}

export interface BatchCounts {
  indexed: number;
  removed: number;
  rejected: number;
}

/** Paths read and written together; large enough to amortise LanceDB and DuckDB commits. */
const BATCH_SIZE = 1024;
/**
 * How long to wait for more events before writing: one save often fires two (truncate, write),
 * here 0.2-0.9 ms apart. Short, because it is part of every save's way to search; an event that
 * arrives later only queues the path again, and re-reading an unchanged file costs a hash. At 3 ms
 * a save reached search 2-3 ms later (its batch started 4-6 ms after the write instead of 2-4).
 */
const DEBOUNCE_MS = 1;
/**
 * While searches wait for a turn, saves that arrive while a batch is being written (steady saves)
 * wait until this long after that batch started, and go together. Each batch adds a fragment to
 * the small table of the newest chunks, which filtered searches scan until its next compaction
 * (unfiltered ones read its copy in memory), and costs a catalog commit. When every batch went to
 * the main table, back-to-back batches (one per ~200 ms at 10 saves/s with 32 clients searching,
 * `npm run bench -- --only concurrency`) made search p99 under saves 4.5-5x its idle value, and
 * this was 500 ms. With the small table and its copy in memory, 250 ms: the same phase at 20k
 * chunks kept the p99 ratio at 1.8x and brought save to searchable p99 from 1,028 to 982 ms on a
 * machine whose other processes took a core. Without searches waiting (one person saving and
 * searching) nothing is held back, and neither is a queue of a full batch or more.
 */
const STEADY_SPACING_MS = 250;
/**
 * A file read this soon after its modification time may be written again within the same clock
 * tick (same size, same time, other content): its time cannot vouch for its content, so the next
 * reconciliation reads it again. Larger than any Linux, macOS or NTFS timestamp granularity.
 */
const RACY_MS = 100;

/** A batch taken from the queue, being prepared. */
interface InFlightBatch {
  paths: string[];
  prepared: Promise<PreparedBatch>;
}

export class IndexWriter {
  private readonly queue = new Set<string>();
  /** The batches being prepared and written now. */
  private readonly inFlight = new Set<string>();
  /**
   * Paths of the batch being written whose chunks searches already see (LanceDB is written; the
   * catalog, which searches do not read, is being): what whenWritten waits for is done.
   */
  private searchable = new Set<string>();
  /**
   * The records of the batch being written, from the moment every search shows its rows until the
   * catalog has them (then `states` does): what searches show of these paths (null: removed).
   */
  private showing = new Map<string, FileState | null>();
  /** Paths whose recorded size and time may hide a later write (see RACY_MS). */
  private readonly racy = new Set<string>();
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];
  /** Callers waiting until some paths are written or searchable (whenWritten), with what they wait for. */
  private written: {
    paths: string[];
    done: (path: string) => boolean;
    settle: (error: Error | null) => void;
  }[] = [];
  private failure: Error | null = null;
  private stopped = false;
  /** The last write failure and how many in a row, while writes keep failing. */
  failing: { error: Error; attempts: number; retryMs: number } | null = null;
  /** Totals since the counters were last reset, for a sync's answer. */
  readonly totals: BatchCounts = { indexed: 0, removed: 0, rejected: 0 };
  /** Files written (indexed, removed or rejected) since the writer was made; never reset. */
  filesWritten = 0;
  lastChangeAt: Date | null = null;
  /** done/total of the work queued since the queue was last empty. */
  progress: { done: number; total: number } | null = null;

  constructor(
    private readonly deps: IndexerDeps,
    /** What the catalog says was indexed, kept in memory: the writer is its only writer. */
    private readonly states: Map<string, FileState>,
  ) {}

  get pending(): number {
    return this.queue.size;
  }

  knownPaths(): IterableIterator<string> {
    return this.states.keys();
  }

  stateOf(path: string): FileState | undefined {
    return this.states.get(path);
  }

  /**
   * The record of what searches show of `path` now: while a batch is written, its record once
   * every search shows its rows (ChunkIndex.replace's onVisible), before the catalog's commit
   * (5-37 ms later in the benchmark's saves). Reads of a note against the index (noteChunks.ts, a
   * hit's blob) go by this one. By stateOf, a search meanwhile that found a note just saved could
   * not read it from its file and asked the index for its chunks, and a run citing the hit named
   * the older blob. Before every search shows the rows (the small table's copy in memory takes
   * them first, for unfiltered searches only), the older record stands and the index answers.
   */
  shownStateOf(path: string): FileState | undefined {
    return this.showing.has(path) ? (this.showing.get(path) ?? undefined) : this.states.get(path);
  }

  /** Whether the path is queued or being written: an event already reported it. */
  isPending(path: string): boolean {
    return this.queue.has(path) || this.inFlight.has(path);
  }

  /** Whether the path was read too soon after it was written to trust its recorded size and time. */
  isRacy(path: string): boolean {
    return this.racy.has(path);
  }

  enqueue(paths: Iterable<string>): void {
    let added = 0;
    for (const path of paths) {
      if (!this.queue.has(path)) {
        this.queue.add(path);
        added++;
      }
    }
    if (added === 0) return;
    this.progress = { done: this.progress?.done ?? 0, total: (this.progress?.total ?? 0) + added };
    this.deps.onProgress();
    if (!this.running && !this.timer) {
      this.timer = setTimeout(() => this.kick(), DEBOUNCE_MS);
    }
  }

  /** Resolves once everything queued so far is written (rejects if writing failed). */
  whenIdle(): Promise<void> {
    if (!this.running && !this.timer && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.idle.push(() => (this.failure ? reject(this.failure) : resolve()));
    });
  }

  /**
   * Resolves once none of `paths` is queued or being written (`until: 'searchable'`: once searches
   * see them, before the catalog's commit): what each held when it was queued is in the index.
   * Unlike whenIdle, it does not wait for saves queued after them, so it ends under steady saves
   * too. Rejects if writing fails (a retry may follow) or the writer stops.
   */
  whenWritten(paths: string[], until: 'written' | 'searchable' = 'written'): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(REPLACED));
    const done =
      until === 'written'
        ? (path: string) => !this.isPending(path)
        : (path: string) => this.isSearchable(path);
    if (paths.every(done)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.written.push({ paths, done, settle: (error) => (error ? reject(error) : resolve()) });
    });
  }

  /** Resolves once every change queued so far is written (whenIdle also waits for later ones). */
  whenCaughtUp(): Promise<void> {
    return this.whenWritten([...this.queue, ...this.inFlight]);
  }

  /** Whether searches see the path as it was when last queued. */
  private isSearchable(path: string): boolean {
    return !this.queue.has(path) && (!this.inFlight.has(path) || this.searchable.has(path));
  }

  /** Wakes the whenWritten callers whose paths are all written; with an error, every one. */
  private settleWritten(error: Error | null): void {
    const waiting = this.written;
    this.written = [];
    for (const waiter of waiting) {
      if (error || waiter.paths.every(waiter.done)) waiter.settle(error);
      else this.written.push(waiter);
    }
  }

  resetTotals(): void {
    this.totals.indexed = 0;
    this.totals.removed = 0;
    this.totals.rejected = 0;
  }

  /** Forgets everything indexed (the stores were cleared): every file will be read again. */
  forgetAll(): void {
    this.states.clear();
    this.racy.clear();
  }

  /** Stops for good (the stores are being replaced): no more writes, no retries. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) return; // its end wakes the waiters
    this.settleWritten(new Error(REPLACED));
    const waiters = this.idle;
    this.idle = [];
    for (const wake of waiters) wake();
  }

  private kick(): void {
    this.timer = null;
    if (this.running || this.stopped) return;
    this.failure = null;
    let retry = false;
    this.running = this.loop()
      .then(
        () => {
          this.failing = null;
        },
        async (error: unknown) => {
          this.failure = error instanceof Error ? error : new Error(String(error));
          const attempts = (this.failing?.attempts ?? 0) + 1;
          this.failing = { error: this.failure, attempts, retryMs: retryDelayMs(attempts) };
          this.deps.log.error('indexing failed', { error: this.failure, attempts });
          const decision = await (this.deps.onWriteFailed?.(this.failure, attempts) ?? 'abandon');
          retry = decision === 'retry' && !this.stopped;
        },
      )
      .finally(() => {
        this.running = null;
        if (this.queue.size > 0 && !this.failure && !this.stopped) {
          this.kick();
          return;
        }
        // Woken with the failure, if any: a retry comes later, and callers should not hang on it.
        if (retry) {
          this.timer = setTimeout(() => this.kick(), this.failing!.retryMs);
          this.timer.unref();
        } else this.progress = null;
        if (this.failure) this.settleWritten(this.failure);
        else if (this.stopped) this.settleWritten(new Error(REPLACED));
        this.deps.onProgress();
        const waiters = this.idle;
        this.idle = [];
        for (const wake of waiters) wake();
      });
  }

  /**
   * Batches go through two stages: prepared (read, hashed, parsed and embedded: file reads and the
   * worker thread) and written (LanceDB, then the catalog: the main thread and the stores' own
   * threads). While one batch is written the next is prepared, so neither side waits on the other
   * (a cold index of 20,000 chunks left each idle 8-11 s when they took turns). At most two batches
   * are held at once, and batches are written in the order they were taken from the queue.
   */
  private async loop(): Promise<void> {
    let batchStarted = 0;
    let ahead: InFlightBatch | null = null;
    try {
      while (ahead || this.queue.size > 0) {
        let current: InFlightBatch | null;
        if (ahead) {
          current = ahead;
          ahead = null;
        } else {
          // Queued while the previous batch was written, with searches waiting: steady saves under
          // load, which go together.
          const wait = batchStarted + STEADY_SPACING_MS - Date.now();
          if (batchStarted > 0 && wait > 0 && this.queue.size < BATCH_SIZE && this.deps.searchesBusy?.()) {
            await new Promise((resolve) => setTimeout(resolve, wait));
            if (this.stopped) return;
          }
          current = this.startBatch(new Set());
        }
        batchStarted = Date.now();
        const batch = await this.settle(current);
        // Prepare the next batch now, unless saves under load should wait to go together (above).
        const spaced = this.queue.size < BATCH_SIZE && this.deps.searchesBusy?.() === true;
        if (!spaced && !this.stopped) ahead = this.startBatch(new Set(batch.paths));
        await this.writeBatch(batch).catch((error: unknown) => {
          // Nothing of this batch is recorded in the catalog: put it back for the next attempt.
          this.requeue(batch.paths);
          throw error;
        });
        for (const path of batch.paths) this.inFlight.delete(path);
        this.settleWritten(null);
        if (this.progress) this.progress.done += batch.paths.length;
        this.deps.onProgress();
      }
    } finally {
      // A failed write leaves the batch prepared ahead unwritten: back to the queue with it.
      if (ahead) {
        await ahead.prepared.catch(() => undefined);
        this.requeue(ahead.paths);
      }
    }
  }

  /**
   * Takes the next batch from the queue and starts preparing it. Paths of the batch being written
   * (`writing`) stay queued: they are compared with the catalog only once that batch is recorded.
   */
  private startBatch(writing: Set<string>): InFlightBatch | null {
    const paths: string[] = [];
    for (const path of this.queue) {
      if (paths.length >= BATCH_SIZE) break;
      if (!writing.has(path)) paths.push(path);
    }
    if (paths.length === 0) return null;
    for (const path of paths) {
      this.queue.delete(path);
      this.inFlight.add(path);
    }
    const prepared = prepareBatch(paths, {
      root: this.deps.root,
      embedder: this.deps.embedder,
      preparer: this.deps.preparer,
      embedInPreparer: this.deps.embedInPreparer,
      known: (path) => this.states.get(path),
    });
    // Awaited later (settle, or the loop's end): a failure meanwhile is not unhandled.
    prepared.catch(() => undefined);
    return { paths, prepared };
  }

  /** The prepared batch; a batch that could not be prepared goes back to the queue. */
  private async settle(
    batch: { paths: string[]; prepared: Promise<PreparedBatch> } | null,
  ): Promise<PreparedBatch> {
    if (!batch) return emptyBatch();
    try {
      return await batch.prepared;
    } catch (error) {
      this.requeue(batch.paths);
      throw error;
    }
  }

  private requeue(paths: string[]): void {
    for (const path of paths) {
      this.inFlight.delete(path);
      this.queue.add(path);
    }
  }

  private async writeBatch(batch: PreparedBatch): Promise<void> {
    const { indexed, rejected, removed, touchedOnly, rows, phases } = batch;
    batch.paths.forEach((path, i) => {
      const stat = batch.stats[i];
      if (stat && batch.readAt - stat.mtimeMs < RACY_MS) this.racy.add(path);
      else this.racy.delete(path);
    });
    if (touchedOnly.length > 0) {
      await this.deps.catalog.touch(touchedOnly);
      for (const t of touchedOnly)
        this.states.set(t.path, { ...this.states.get(t.path)!, size: t.size, mtimeMs: t.mtimeMs });
    }
    const touched = [...indexed.map((d) => d.path), ...rejected.map((r) => r.path), ...removed];
    if (touched.length === 0) return;
    let mark = performance.now();
    const lap = (name: string): void => {
      const now = performance.now();
      phases[name] = Math.round((now - mark) * 10) / 10;
      mark = now;
    };
    const records = new Map<string, FileState | null>(removed.map((path) => [path, null]));
    for (const d of [...indexed, ...rejected]) {
      const layout = batch.layouts.get(d.path);
      records.set(d.path, {
        blob: d.blob,
        size: d.size,
        mtimeMs: d.mtimeMs,
        chunks: 'chunks' in d ? d.chunks.length : 0,
        ...(layout ? { layout } : {}),
      });
    }
    try {
      await this.deps.chunkIndex.replace(touched, rows, () => (this.showing = records));
      lap('lanceMs');
      // Searchable now: a caller waiting for these paths need not wait for the catalog's commit
      // (under 32 searching clients its p90 was 170 ms, its worst 470). Should the commit fail, the
      // batch is written again; searches meanwhile show its chunks, which are the files' content.
      this.searchable = new Set(batch.paths);
      this.settleWritten(null);
      // The catalog holds records of the paths this map knows, and of no other (it is their copy).
      const recorded = (path: string): boolean => this.states.has(path);
      await this.deps.catalog.apply({ indexed, rejected, removed, recorded });
    } finally {
      this.searchable = new Set();
      this.showing = new Map();
    }
    lap('catalogMs');
    this.deps.log.debug('indexed a batch', { paths: batch.paths.length, rows: rows.length, ...phases });

    for (const [path, record] of records) {
      if (record) this.states.set(path, record);
      else this.states.delete(path);
    }
    this.totals.indexed += indexed.length;
    this.totals.removed += removed.length;
    this.totals.rejected += rejected.length;
    this.filesWritten += indexed.length + removed.length + rejected.length;
    this.lastChangeAt = new Date();
    if (rejected.length > 0)
      logRejected(
        this.deps.log,
        rejected.map((r) => r.problem),
      );
  }
}

function emptyBatch(): PreparedBatch {
  return {
    paths: [],
    readAt: 0,
    stats: [],
    indexed: [],
    rejected: [],
    removed: [],
    touchedOnly: [],
    rows: [],
    layouts: new Map(),
    phases: {},
  };
}

function logRejected(log: Logger, problems: Problem[]): void {
  for (const p of problems) log.info(`not indexed: ${p.path}:${p.line}:${p.column} ${p.message}`);
}
