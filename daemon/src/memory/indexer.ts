/**
 * The index's one writer. File-change hints (from the watcher or a rescan) go into a queue that
 * coalesces them per path; a single loop takes them in batches, reads and hashes each file, skips
 * the unchanged, parses and embeds the rest, and writes LanceDB first, then the DuckDB catalog, so
 * a crash in between only makes the next rescan redo that batch.
 */
import { constants } from 'node:fs';
import type { Problem } from '@keel/schemas';
import { openNoFollow, resolveInside, WorkspacePathError } from '../files/workspacePaths';
import type { Logger } from '../log';
import type { Embedder } from './embed/embedder';
import { gitBlobId, isIndexable, type FileStat } from './files';
import { PARSE_LIMITS, tooLarge } from './parse/index';
import { inProcessPreparer, type FilePreparer } from './prepare';
import type { PreparedFile } from '../runtime/workerTasks';
import { mentionsOf } from './rerank';
import type { Catalog, DocumentRecord, FileState, RejectedRecord } from './store/catalog';
import type { ChunkIndex, ChunkRow } from './store/chunkIndex';

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
 * How long to wait for more events before writing: one save often fires two (truncate, write).
 * Short, because it is part of every save's way to search; an event that arrives later only
 * queues the path again, and re-reading an unchanged file costs a hash.
 */
const DEBOUNCE_MS = 3;
/**
 * While searches wait for a turn, saves that arrive while a batch is being written (steady saves)
 * wait until this long after that batch started, and go together. Each batch adds a LanceDB fragment that every search scans on
 * its own until the next optimization: about 1 ms per fragment per search at 100k chunks (vector
 * and full-text together). With batches back to back (one per ~200 ms at 10 saves/s and 32
 * clients searching, `npm run bench -- --only concurrency`) search p99 under saves was 4.5-5x its
 * idle value; one batch per 500 ms, about 2x. Without searches waiting (one person saving and
 * searching) nothing is held back, and neither is a queue of a full batch or more.
 */
const STEADY_SPACING_MS = 500;
const READ_CONCURRENCY = 32;
/**
 * A file read this soon after its modification time may be written again within the same clock
 * tick (same size, same time, other content): its time cannot vouch for its content, so the next
 * reconciliation reads it again. Larger than any Linux, macOS or NTFS timestamp granularity.
 */
const RACY_MS = 100;

export class IndexWriter {
  private readonly queue = new Set<string>();
  /** The batch being read and written now. */
  private inFlight = new Set<string>();
  /** Paths whose recorded size and time may hide a later write (see RACY_MS). */
  private readonly racy = new Set<string>();
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];
  private failure: Error | null = null;
  private stopped = false;
  /** The last write failure and how many in a row, while writes keep failing. */
  failing: { error: Error; attempts: number; retryMs: number } | null = null;
  /** Totals since the counters were last reset, for a sync's answer. */
  readonly totals: BatchCounts = { indexed: 0, removed: 0, rejected: 0 };
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
        this.deps.onProgress();
        const waiters = this.idle;
        this.idle = [];
        for (const wake of waiters) wake();
      });
  }

  private async loop(): Promise<void> {
    let batchStarted = 0;
    while (this.queue.size > 0) {
      // Queued while the previous batch was written, with searches waiting: steady saves under
      // load, which go together.
      const wait = batchStarted + STEADY_SPACING_MS - Date.now();
      if (batchStarted > 0 && wait > 0 && this.queue.size < BATCH_SIZE && this.deps.searchesBusy?.()) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.stopped) return;
      }
      batchStarted = Date.now();
      const batch = [...this.queue].slice(0, BATCH_SIZE);
      for (const path of batch) this.queue.delete(path);
      this.inFlight = new Set(batch);
      try {
        await this.writeBatch(batch);
      } catch (error) {
        // Nothing of this batch is recorded in the catalog: put it back for the next attempt.
        for (const path of batch) this.queue.add(path);
        throw error;
      } finally {
        this.inFlight = new Set();
      }
      if (this.progress) this.progress.done += batch.length;
      this.deps.onProgress();
    }
  }

  private async writeBatch(paths: string[]): Promise<void> {
    const { root } = this.deps;
    const readAt = Date.now();
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string): void => {
      const now = performance.now();
      phases[name] = Math.round((now - mark) * 10) / 10;
      mark = now;
    };
    // A path that is no longer indexable (a rule changed, a folder became hidden) counts as gone.
    const files = await mapLimit(paths, READ_CONCURRENCY, (path) =>
      isIndexable(path) ? readIfFile(root, path) : Promise.resolve(null),
    );
    const indexed: DocumentRecord[] = [];
    const rejected: RejectedRecord[] = [];
    const removed: string[] = [];
    const touchedOnly: { path: string; size: number; mtimeMs: number }[] = [];
    const rows: Omit<ChunkRow, 'vector'>[] = [];
    const preparer = this.deps.preparer ?? inProcessPreparer;
    const embedded = this.deps.embedInPreparer === true && preparer !== inProcessPreparer;
    const vectors: (Float32Array | null)[] = [];

    const changed: { path: string; file: NonNullable<(typeof files)[number]>; blob: string }[] = [];
    paths.forEach((path, i) => {
      const file = files[i];
      const known = this.states.get(path);
      if (!file) {
        if (known) removed.push(path);
        return;
      }
      // A file too large to read is known by its size and time instead of its content.
      const blob = file.content ? gitBlobId(file.content) : `large:${file.stat.size}:${file.stat.mtimeMs}`;
      if (known?.blob === blob) {
        // Same content (a touch, a checkout of the same version): remember the new time only.
        if (known.mtimeMs !== file.stat.mtimeMs || known.size !== file.stat.size) {
          touchedOnly.push({ path, size: file.stat.size, mtimeMs: file.stat.mtimeMs });
        }
        return;
      }
      changed.push({ path, file, blob });
    });
    lap('readMs');
    const readable = changed.flatMap(({ path, file }) =>
      file.content ? [{ path, content: file.content.toString('utf8') }] : [],
    );
    const fromPreparer = await preparer.prepare(readable, embedded);
    lap('prepareMs');
    const prepared = changed.map(({ path, file }): PreparedFile =>
      file.content
        ? fromPreparer.shift()!
        : {
            parsed: tooLarge(path, file.stat.size, PARSE_LIMITS.maxFileBytes),
            searchTexts: [],
            vectors: null,
          },
    );

    changed.forEach(({ path, file, blob }, i) => {
      const record = { path, blob, size: file.stat.size, mtimeMs: file.stat.mtimeMs };
      const { parsed, searchTexts, vectors: fileVectors } = prepared[i]!;
      if (!parsed.ok) {
        rejected.push({ ...record, problem: parsed.problem });
        return;
      }
      const { meta, chunks } = parsed.file;
      const date = meta.date ?? new Date(file.stat.mtimeMs).toISOString().slice(0, 10);
      const mentions = mentionsOf(parsed.file.frontmatter);
      chunks.forEach((chunk, index) => {
        rows.push({
          id: `${path}#${index}`,
          path,
          chunk: index,
          start_line: chunk.startLine,
          end_line: chunk.endLine,
          heading: chunk.heading,
          text: chunk.text,
          search_text: searchTexts[index] ?? '',
          type: meta.type,
          tags: meta.tags,
          date,
          review_by: meta.reviewBy,
          mentions,
        });
        vectors.push(fileVectors?.[index] ?? null);
      });
      indexed.push({
        ...record,
        kind: parsed.file.kind,
        type: meta.type,
        title: meta.title,
        tags: meta.tags,
        date,
        reviewBy: meta.reviewBy,
        frontmatter: parsed.file.frontmatter,
        chunks: chunks.map((c, index) => ({
          chunk: index,
          startLine: c.startLine,
          endLine: c.endLine,
          heading: c.heading,
          chars: c.text.length,
        })),
        problems: parsed.file.problems,
      });
    });

    paths.forEach((path, i) => {
      const stat = files[i]?.stat;
      if (stat && readAt - stat.mtimeMs < RACY_MS) this.racy.add(path);
      else this.racy.delete(path);
    });
    if (touchedOnly.length > 0) {
      await this.deps.catalog.touch(touchedOnly);
      for (const t of touchedOnly)
        this.states.set(t.path, { ...this.states.get(t.path)!, size: t.size, mtimeMs: t.mtimeMs });
    }
    const touched = [...indexed.map((d) => d.path), ...rejected.map((r) => r.path), ...removed];
    if (touched.length === 0) return;
    // Rows the preparer did not embed (another embedder, or the in-process preparer) are embedded here.
    const missing = rows.flatMap((_, i) => (vectors[i] ? [] : [i]));
    if (missing.length > 0) {
      const computed = await this.deps.embedder.embedDocuments(missing.map((i) => rows[i]!.search_text));
      missing.forEach((row, j) => (vectors[row] = computed[j]!));
    }
    lap('embedMs');
    await this.deps.chunkIndex.replace(
      touched,
      rows.map((row, i) => ({ ...row, vector: vectors[i]! })),
    );
    lap('lanceMs');
    await this.deps.catalog.apply({ indexed, rejected, removed });
    lap('catalogMs');
    this.deps.log.debug('indexed a batch', { paths: paths.length, rows: rows.length, ...phases });

    for (const d of [...indexed, ...rejected]) {
      this.states.set(d.path, { blob: d.blob, size: d.size, mtimeMs: d.mtimeMs });
    }
    for (const path of removed) this.states.delete(path);
    this.totals.indexed += indexed.length;
    this.totals.removed += removed.length;
    this.totals.rejected += rejected.length;
    this.lastChangeAt = new Date();
    if (rejected.length > 0)
      logRejected(
        this.deps.log,
        rejected.map((r) => r.problem),
      );
  }
}

/**
 * The file's content and stat, or null when it is gone, not a regular file, or reached through a
 * link; the content is null for a file too large to read (it is reported, not indexed).
 */
async function readIfFile(
  root: string,
  path: string,
): Promise<{ content: Buffer | null; stat: FileStat } | null> {
  try {
    const handle = await openNoFollow(await resolveInside(root, path), constants.O_RDONLY);
    if (handle === null) return null;
    try {
      const info = await handle.stat();
      if (!info.isFile()) return null;
      const content = info.size > PARSE_LIMITS.maxFileBytes ? null : await handle.readFile();
      return { content, stat: { size: content?.length ?? info.size, mtimeMs: info.mtimeMs } };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof WorkspacePathError) return null;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return null;
    throw error;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

function logRejected(log: Logger, problems: Problem[]): void {
  for (const p of problems) log.info(`not indexed: ${p.path}:${p.line}:${p.column} ${p.message}`);
}
