/**
 * The memory plane of one workspace: keeps the index converged to the files (watcher, rescans, one
 * writer), answers searches, and repairs itself when its stores are damaged or deleted.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  type IndexState,
  type IndexStatus,
  type MemoryDocument,
  type Problem,
  type SearchFilter,
  type SearchResult,
  type WorkspaceConfig,
} from '@keel/schemas';
import { OperatorError, Unavailable } from '../errors';
import { readInside } from '../files/workspacePaths';
import { gitBlobId } from '../files/gitBlob';
import type { Logger } from '../log';
import { collectGarbage } from '../runtime/collectGarbage';
import { Semaphore } from '../runtime/semaphore';
import { createEmbedder, type Embedder } from './embed/embedder';
import { WORD_DIMENSIONS as LOCAL_DIMENSIONS } from './embed/staticAsset';
import { isIndexable, walkWorkspace } from './files';
import { WorkerPreparer, type FilePreparer } from './prepare';
import { IndexWriter } from './indexer';
import { isStale, searchChunks, type SearchMode } from './search';
import { NoteChunks } from './noteChunks';
import { FolderOrder } from './sequence';
import {
  closeBoth,
  firstLine,
  joinRepairs,
  movedText,
  openStores,
  prepareStores,
  quarantineStores,
  storesPresent,
  type Stores,
} from './store/stores';
import { failureKind, writeProblemMessage } from './store/recovery';
import type { FileState } from './store/catalog';
import { differences, Reconciler } from './reconciler';
import { WorkspaceWatcher } from './watcher';
import { MemorySnapshots, type SnapshotQuery } from './history/memorySnapshots';

/** Bump when chunking or the indexed text changes: the index then rebuilds itself. */
const INDEX_FORMAT = 'chunks-v3';
const NOTIFY_INTERVAL_MS = 250;
/**
 * Searches let into LanceDB at once. LanceDB runs queries and writes on one pool of a thread per
 * core, first come first served: with 32 clients searching, each write of a save waited behind
 * every search already queued there (saves took seconds to become searchable). Beyond one search
 * per core there is nothing to gain; the rest wait here, and writes pass them.
 */
const CONCURRENT_SEARCHES = Math.max(2, availableParallelism());
/**
 * Saves go to a small table of the newest chunks (chunkIndex.ts), folded into the main table after
 * this many writes, or this long after the first write not yet folded, or when writes pause. The
 * main table is compacted (a minute at 100k chunks on a busy machine, beside the writes) after
 * several folds or when writes pause: every write to it adds files that each search then opens
 * and scans (under steady writes searches slowed 2-3x and the daemon held 500+ files open).
 */
const OPTIMIZE_AFTER_WRITES = 50;
const OPTIMIZE_WITHIN_MS = 20_000;
const OPTIMIZE_AFTER_IDLE_MS = 5_000;
/** Files written (about 5 chunks each) after which a pause in writes collects garbage. */
const COLLECT_AFTER_FILES = 1_000;
/** The longest the start-up comparison with the files waits for the first search to load indexes. */
const WARM_UP_MAX_MS = 3_000;
const CATCHING_UP =
  'Searches answer from the index as it was when Keel last stopped while it is compared with the ' +
  'files: notes changed since then may show their old text, or be missing, until this is done.';

export interface MemoryOptions {
  root: string;
  config: WorkspaceConfig;
  log: Logger;
  /** Watch the files and rescan on a timer (a long-lived daemon), or not (one CLI command). */
  watch: boolean;
  onStatus: (status: IndexStatus) => void;
}

export interface RunResult {
  documents: number;
  chunks: number;
  indexed: number;
  removed: number;
  problems: Problem[];
  tookMs: number;
}

export class MemoryService {
  private started: Promise<void> = Promise.resolve();
  private stores: Stores;
  private writer: IndexWriter;
  private scanning = false;
  private rebuilding = false;
  private recovery: string | null;
  private counts = { documents: 0, chunks: 0 };
  private problems: Problem[] = [];
  private watcher: WorkspaceWatcher | null = null;
  private reconciler: Reconciler | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private notifyTimer: NodeJS.Timeout | null = null;
  /** Building the search indexes after a large load: search is slower until it is done. */
  private buildingIndexes = false;
  private optimizeTimer: NodeJS.Timeout | null = null;
  /** Writes (batches) since the last optimization started, and when the first of them happened. */
  private unoptimized = { writes: 0, since: 0, lastChange: null as Date | null };
  /** The main table's indexes lack rows a daemon before this one folded in (checkIndexesBehind). */
  private indexesBehind = false;
  /** The writer's files written at the last full collection (collectAfterBulk). */
  private collected = { writer: null as IndexWriter | null, files: 0 };
  /** Scans, rebuilds and repairs run one at a time, in order. */
  private exclusive: Promise<unknown> = Promise.resolve();
  /** The upkeeps after the queue emptied (counts, index builds, a collection) that still run. */
  private readonly upkeeps = new Set<Promise<void>>();
  private closed = false;
  private readonly preparer: FilePreparer;
  /** The order of notes in their folders, for the sequence prior of search. */
  private readonly folderOrder: FolderOrder;
  private readonly notes: NoteChunks;
  /** A repair under way: `reopened` once fresh stores answer searches, `done` once refilled. */
  private healing: { reopened: Promise<void>; done: Promise<void> } | null = null;
  /** Repairs since the last successful write: a second one in a row cannot help, retry instead. */
  private repairsWithoutProgress = 0;
  private readonly searches = new Semaphore(CONCURRENT_SEARCHES);
  /**
   * What the catalog says each file was indexed from, read after the index answers searches (at
   * 10,000 notes, 0.2-0.4 s of a restart): the writer's map, filled before anything is queued.
   */
  private states: Promise<void> | null = null;
  private readonly unloadedStates = new Map<string, FileState>();
  /** Set from the start until the first comparison with the files is written (see status()). */
  private catchingUp: string | null = null;
  /** Past commits' indexes, for searches "as of" a date; made on the first such search. */
  private snapshots: MemorySnapshots | null = null;

  private constructor(
    private readonly options: MemoryOptions,
    private readonly embedder: Embedder,
    stores: Stores,
  ) {
    this.stores = stores;
    this.recovery = stores.repaired;
    this.preparer = new WorkerPreparer(options.log);
    this.folderOrder = new FolderOrder(options.root);
    this.notes = new NoteChunks(options.root, (path) => this.writer.shownStateOf(path));
    this.writer = this.newWriter(this.unloadedStates);
  }

  static async open(options: MemoryOptions): Promise<MemoryService> {
    const stateDir = join(options.root, '.keel');
    const opened = await MemoryService.openEmbedderAndStores(options, stateDir);
    const { embedder } = opened;
    let { stores } = opened;
    let prepared: Awaited<ReturnType<typeof prepareStores>>;
    try {
      prepared = await prepareStores(stores, `${INDEX_FORMAT}|${embedder.id}`, options.log);
    } catch (error) {
      // Opened, but damaged further in (a corrupt block, a missing data file): start from empty.
      await closeBoth(stores);
      if (failureKind(error) === 'full') throw error;
      const moved = await quarantineStores(stateDir);
      stores = await openStores(stateDir, embedder.dimensions, options.log);
      stores.repaired = joinRepairs(
        stores.repaired,
        `${new Date().toISOString()}: the index was damaged (${firstLine(error)}); ${movedText(moved)}it is being rebuilt from the files.`,
      );
      prepared = await prepareStores(stores, `${INDEX_FORMAT}|${embedder.id}`, options.log);
    }
    stores.repaired = joinRepairs(stores.repaired, prepared.repaired);
    const service = new MemoryService(options, embedder, stores);
    await service.refreshSummary();
    return service;
  }

  /**
   * The embedder, and the stores sized for its vectors. The default embedder's size is known before
   * its word table is read, so the stores open meanwhile: DuckDB and LanceDB open their files on
   * their own threads while this one reads the table (a restarted daemon's first search came
   * 150 ms later when they waited for it).
   */
  private static async openEmbedderAndStores(
    options: MemoryOptions,
    stateDir: string,
  ): Promise<{ embedder: Embedder; stores: Stores }> {
    const { embeddings } = options.config.memory;
    if (embeddings.provider !== 'local') {
      const embedder = await createEmbedder(embeddings, options.config.models.endpoint);
      return { embedder, stores: await openStores(stateDir, embedder.dimensions, options.log) };
    }
    const [stores, embedder] = await Promise.allSettled([
      openStores(stateDir, LOCAL_DIMENSIONS, options.log),
      createEmbedder(embeddings, options.config.models.endpoint),
    ]);
    if (embedder.status === 'rejected') {
      if (stores.status === 'fulfilled') await closeBoth(stores.value);
      throw embedder.reason;
    }
    if (stores.status === 'rejected') throw stores.reason;
    return { embedder: embedder.value, stores: stores.value };
  }

  /**
   * Starts watching (daemon mode) and brings the index up to date in the background. A restarted
   * daemon answers searches from the index as it was at once; the comparison with the files (at
   * 10,000 notes a walk of every file, beside the watcher's own listing) waits until a first
   * search has loaded the search indexes, and the searches sent meanwhile are answered, so the
   * first searches do not queue behind it.
   */
  start(): void {
    this.catchingUp = CATCHING_UP;
    this.publish();
    const ready = this.warmUp()
      .then(() => this.searchesDone())
      .then(() => this.loadStates());
    this.started = ready
      .then(() => this.sync())
      .then(
        () => undefined,
        (error: unknown) => this.startFailed('initial index sync failed', error),
      )
      .finally(() => {
        this.catchingUp = null;
        this.publish();
        // A daemon that lives on: its first save should not wait for the worker thread to start.
        // Not a single command's memory, where it would only compete with the command.
        if (this.options.watch && !this.closed) {
          this.preparer.warm?.(this.embedsInPreparer);
          this.checkIndexesBehind();
        }
      });
    if (!this.options.watch) return;
    ready.then(
      () => this.watch(),
      (error: unknown) => this.startFailed('cannot read what the index holds', error),
    );
  }

  /** A failure of the start's background work; none when the memory closed under it (a quick stop). */
  private startFailed(message: string, error: unknown): void {
    if (this.closed) this.options.log.debug(`${message} (closing)`, { error });
    else this.options.log.error(message, { error });
  }

  /**
   * Until the searches under way are answered (a client's first, sent while the warm-up loaded the
   * indexes), at most WARM_UP_MAX_MS: reading the catalog takes the thread for 100-150 ms at 10,000
   * notes, and the walk after it more.
   */
  private async searchesDone(): Promise<void> {
    await Promise.race([
      this.searches.idle(),
      new Promise((resolve) => setTimeout(resolve, WARM_UP_MAX_MS).unref()),
    ]);
  }

  /** One search, answered from the index as it is: reads the search indexes into LanceDB's caches. */
  private async warmUp(): Promise<void> {
    if (this.counts.chunks === 0) return;
    const started = Date.now();
    const search = searchChunks(this.stores.chunkIndex, this.embedder, {
      query: 'keel note',
      k: 1,
      maxAgeDays: this.options.config.memory.maxAgeDays,
      today: localToday(),
    }).then(
      () => this.options.log.debug('search indexes loaded', { ms: Date.now() - started }),
      // A damaged index is found by the sync that follows, or by the next search's health check.
      (error: unknown) => this.options.log.debug('warming the search indexes failed', { error }),
    );
    // Never holds the comparison with the files back for long, however slow the disk.
    await Promise.race([search, new Promise((resolve) => setTimeout(resolve, WARM_UP_MAX_MS).unref())]);
  }

  /** Fills the writer's record of what is indexed from the catalog, once, before the first write. */
  private loadStates(): Promise<void> {
    const into = this.unloadedStates;
    this.states ??= this.stores.catalog.fileStates().then(
      (states) => {
        for (const [path, state] of states) into.set(path, state);
      },
      (error: unknown) => {
        // Read again by the next caller (a rescan, a repair): one failed read must not stall memory.
        this.states = null;
        throw error;
      },
    );
    return this.states;
  }

  /** Watches the files (and rescans on a timer), once the writer knows what the index holds. */
  private watch(): void {
    if (this.closed) return;
    const reconciler = new Reconciler(this.options.root, () => this.writer, this.options.log);
    this.reconciler = reconciler;
    void WorkspaceWatcher.start(
      this.options.root,
      {
        changed: (paths) => {
          this.writer.enqueue(paths);
          reconciler.event();
        },
        folderRemoved: (prefix) => {
          this.writer.enqueue([...this.writer.knownPaths()].filter((p) => p.startsWith(prefix)));
          reconciler.event();
        },
        folderAdded: (folder) => reconciler.folderAdded(folder),
      },
      this.options.log,
    ).then(
      (watcher) => {
        if (this.closed) {
          void watcher.close();
          return;
        }
        this.watcher = watcher;
        // Files written between the start-up scan's walk and the watch send no event.
        reconciler.walkSoon();
      },
      (error: unknown) => this.options.log.warn('cannot watch the workspace; relying on rescans', { error }),
    );
    const every = this.options.config.memory.rescanMinutes * 60_000;
    this.rescanTimer = setInterval(() => void this.sync().catch(() => undefined), every);
    this.rescanTimer.unref();
  }

  /**
   * Resolves once the index holds every change seen so far (the start-up scan included): agents
   * wait on this before they search, so they never act on a stale index. Saves queued after the
   * call are not waited for: under steady saves the queue is never empty.
   */
  async current(): Promise<void> {
    await this.started;
    await this.writer.whenCaughtUp().catch(() => undefined);
  }

  /**
   * Reads `paths` again now and resolves once searches see them as they are on disk: a client that
   * has just written notes reads its own writes, without waiting for the watcher or for saves
   * queued after them. Each path must be one the index holds (workspace-relative Markdown or YAML
   * outside hidden folders); a path that is gone is removed from the index.
   */
  async refresh(paths: string[]): Promise<{ paths: number; tookMs: number }> {
    const started = performance.now();
    const refused = paths.find((path) => !isRefreshable(path));
    if (refused !== undefined) {
      throw new OperatorError(
        `${JSON.stringify(refused)} is not a file memory indexes: give workspace-relative paths of ` +
          'Markdown or YAML notes outside hidden folders (memory/customers/acme.md).',
      );
    }
    await this.started;
    const unique = [...new Set(paths)];
    const writer = this.writer;
    writer.enqueue(unique);
    try {
      await writer.whenWritten(unique, 'searchable');
      await this.stores.chunkIndex.ensureIndexed();
    } catch (error) {
      throw new Unavailable(
        `These notes could not be indexed yet (${firstLine(error)}); Keel retries by itself.`,
      );
    }
    return { paths: unique.length, tookMs: Math.round((performance.now() - started) * 100) / 100 };
  }

  get embedderId(): string {
    return this.embedder.id;
  }

  /** The embedder queries are embedded with: the run index (runs/runMemory.ts) shares it. */
  get queryEmbedder(): Embedder {
    return this.embedder;
  }

  /** Reconciles the index with the files on disk and resolves once they match. */
  sync(): Promise<RunResult> {
    return this.serialized(() => this.reconcile());
  }

  /** Empties the index and builds it again from the files. */
  rebuild(): Promise<RunResult> {
    return this.serialized(async () => {
      this.rebuilding = true;
      this.publish();
      try {
        // A load still under way must not put back what is about to be cleared.
        await this.loadStates();
        await this.writer.whenIdle().catch(() => undefined);
        await this.stores.chunkIndex.clear();
        await this.stores.catalog.clear();
        this.writer.forgetAll();
        return await this.reconcile();
      } finally {
        this.rebuilding = false;
        this.publish();
      }
    });
  }

  async search(
    params: { query: string; k: number; filter?: SearchFilter | undefined },
    mode: SearchMode = 'hybrid',
  ): Promise<SearchResult[]> {
    const now = new Date();
    const options = {
      ...params,
      maxAgeDays: this.options.config.memory.maxAgeDays,
      today: localToday(now),
      now,
      archiveDir: `${this.options.config.memory.dir}/archive/`,
      tuning: this.options.config.memory.search,
      folderOrder: this.folderOrder,
      notes: this.notes,
    };
    const index = this.stores.chunkIndex;
    try {
      if (this.healing) await this.waitReopened();
      return await this.searches.run(() =>
        searchChunks(this.stores.chunkIndex, this.embedder, options, mode),
      );
    } catch (error) {
      const swapped = index !== this.stores.chunkIndex;
      if (!swapped && !this.healing && !(await this.checkHealth(error))) throw error;
      // Served from the fresh index, which fills up as the repair proceeds.
      await this.waitReopened();
      try {
        return await searchChunks(this.stores.chunkIndex, this.embedder, options, mode);
      } catch (again) {
        throw new Unavailable(
          `The memory index is being rebuilt after damage (${firstLine(again)}); search again in a few seconds.`,
        );
      }
    }
  }

  /** Whether the worker embeds what it parses: with the local embedder, the one it runs. */
  private get embedsInPreparer(): boolean {
    return this.options.config.memory.embeddings.provider === 'local';
  }

  /** A search over the notes as they were in git at `params.asOf` (history/memorySnapshots.ts). */
  searchAsOf(params: SnapshotQuery, mode: SearchMode = 'hybrid'): ReturnType<MemorySnapshots['search']> {
    if (this.closed) throw new Unavailable('The memory plane is closing; search again once it is back.');
    this.snapshots ??= new MemorySnapshots({
      root: this.options.root,
      embedder: this.embedder,
      preparer: this.preparer,
      embedInPreparer: this.embedsInPreparer,
      log: this.options.log,
      identity: `${INDEX_FORMAT}|${this.embedder.id}`,
      localDay: localToday,
    });
    return this.snapshots.search(params, mode, this.options.config.memory.maxAgeDays);
  }

  /** git's blob id of the note as indexed now (what search hits show), or null when not indexed. */
  indexedBlob(path: string): string | null {
    const blob = this.writer.shownStateOf(path)?.blob;
    // A file too large to read is known by size and time, not content: no blob of it was read.
    return blob && !blob.startsWith('large:') ? blob : null;
  }

  /** Waits (at most 10 s) until a repair has fresh stores in place. */
  private async waitReopened(): Promise<void> {
    const healing = this.healing;
    if (!healing) return;
    await Promise.race([healing.reopened, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  }

  /**
   * One note, read from disk now (the index may lag behind an edit). Only files the index would
   * hold can be read: nothing under `.git/`, `.keel/` or outside the workspace.
   */
  async get(path: string): Promise<MemoryDocument> {
    const normalized = path.replace(/\\/g, '/').replace(/^\.\//, '');
    // A search hit of kind `run` is named `run:<id>`: a run, never a file, whatever the disk holds.
    if (/^run:/i.test(normalized.trim())) {
      throw new OperatorError(
        `${path} is a finished run, not a memory file: read it with "keel show ${normalized.trim().slice(4)}" or open its trace in the editor`,
      );
    }
    if (normalized.startsWith('/') || normalized.split('/').includes('..') || !isIndexable(normalized)) {
      throw new OperatorError(
        `${path} is not a memory file of this workspace (Markdown or YAML, outside hidden folders)`,
      );
    }
    // Never through a link: `memory/creds.md -> ~/.aws/credentials` is not a note of this workspace.
    let bytes: Buffer | null;
    try {
      bytes = await readInside(this.options.root, normalized);
    } catch (error) {
      throw new OperatorError(`Cannot read ${normalized}: ${firstLine(error)}`);
    }
    if (bytes === null) {
      throw new OperatorError(`Cannot read ${normalized}: there is no such file`);
    }
    const content = bytes.toString('utf8');
    const [prepared] = await this.preparer.prepare([{ path: normalized, content }], false);
    const parsed = prepared!.parsed;
    const meta = parsed.ok ? parsed.file.meta : null;
    const today = localToday();
    return {
      path: normalized,
      content,
      frontmatter: parsed.ok ? parsed.file.frontmatter : null,
      type: meta?.type ?? null,
      tags: meta?.tags ?? [],
      date: meta?.date ?? null,
      reviewBy: meta?.reviewBy ?? null,
      stale: isStale(
        meta?.reviewBy ?? null,
        meta?.date ?? null,
        today,
        this.options.config.memory.maxAgeDays,
      ),
      problems: parsed.ok ? parsed.file.problems : [parsed.problem],
      blob: gitBlobId(bytes),
    };
  }

  status(): IndexStatus {
    return {
      state: this.state(),
      documents: this.counts.documents,
      chunks: this.counts.chunks,
      pending: this.writer.pending,
      progress: this.progress(),
      embedder: this.embedder.id,
      lastChangeAt: this.writer.lastChangeAt?.toISOString() ?? null,
      problems: this.writeProblem() ? [this.writeProblem()!, ...this.problems] : this.problems,
      recovery: this.recovery,
      catchingUp: this.catchingUp,
    };
  }

  /** While writes to the index fail: what fails and how to fix it, as a problem on `.keel`. */
  private writeProblem(): Problem | null {
    const failing = this.writer.failing;
    if (!failing) return null;
    const stateDir = join(this.options.root, '.keel');
    const message = writeProblemMessage(
      failureKind(failing.error),
      stateDir,
      firstLine(failing.error),
      failing.retryMs,
    );
    return { path: '.keel', line: 1, column: 1, severity: 'error', message };
  }

  /** Called when `.keel/` may have changed: a deleted store is rebuilt. */
  async checkStores(): Promise<void> {
    if (this.closed || (await storesPresent(join(this.options.root, '.keel')))) return;
    this.startRepair('the .keel folder (or part of it) was deleted');
    await this.healing?.done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.optimizeTimer) clearTimeout(this.optimizeTimer);
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    await this.watcher?.close();
    await this.reconciler?.close();
    await this.writer.whenIdle().catch(() => undefined);
    await this.exclusive.catch(() => undefined);
    // Not under the upkeep: it reads the stores and asks the worker for a collection (a `keel index`
    // that was done closed the worker under it, and warned that the upkeep had failed).
    await Promise.all(this.upkeeps);
    await closeBoth(this.stores);
    await this.snapshots?.close();
    await this.preparer.close();
  }

  private state(): IndexState {
    if (this.rebuilding) return 'rebuilding';
    // An empty index that has not yet compared itself with the files has nothing to answer from.
    if (this.scanning || (this.catchingUp !== null && this.counts.chunks === 0)) return 'scanning';
    return this.writer.pending > 0 || this.writer.progress || this.buildingIndexes ? 'indexing' : 'ready';
  }

  private progress(): IndexStatus['progress'] {
    if (this.scanning) return { phase: 'scanning', done: 0, total: 0 };
    if (this.writer.progress) return { phase: 'indexing', ...this.writer.progress };
    if (this.buildingIndexes) return { phase: 'optimizing', done: 0, total: 0 };
    return null;
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.exclusive.catch(() => undefined).then(task);
    this.exclusive = run;
    return run;
  }

  private async reconcile(): Promise<RunResult> {
    const started = Date.now();
    await this.loadStates();
    this.scanning = true;
    this.publish();
    const onDisk = await walkWorkspace(this.options.root).finally(() => {
      this.scanning = false;
    });
    this.writer.resetTotals();
    this.writer.enqueue(differences(onDisk, this.writer).paths);
    this.publish();
    // A failed write was reported (onWriteFailed) and is retried or repaired: what is written counts.
    // What was queued until now, not saves after it (under steady saves the queue never empties).
    await this.writer.whenCaughtUp().catch(() => undefined);
    await this.refreshSummary();
    const { indexed, removed } = this.writer.totals;
    return { ...this.counts, indexed, removed, problems: this.problems, tookMs: Date.now() - started };
  }

  /**
   * After a failure: do the stores still read (every vector, the full-text index, every catalog
   * block) and are they still there? If not, a repair starts (quarantine, reopen empty, re-index)
   * and the answer is true.
   */
  private async checkHealth(error: unknown): Promise<boolean> {
    const { chunkIndex, catalog } = this.stores;
    const [lance, duck, present] = await Promise.all([
      chunkIndex.probe().then(
        () => null,
        (e: unknown) => e,
      ),
      catalog.verify().then(
        () => null,
        (e: unknown) => e,
      ),
      storesPresent(join(this.options.root, '.keel')),
    ]);
    if (chunkIndex !== this.stores.chunkIndex) return true; // repaired meanwhile
    if (!present) this.startRepair('the .keel folder (or part of it) was deleted');
    else if (lance) this.startRepair(`the search index (LanceDB) is damaged: ${firstLine(lance)}`);
    else if (duck) this.startRepair(`the index catalog (DuckDB) is damaged: ${firstLine(duck)}`);
    else return false;
    this.options.log.warn('the memory index failed a health check', { after: firstLine(error) });
    return true;
  }

  /** Starts one repair (a second call while it runs joins it); searches keep being answered. */
  private startRepair(reason: string): void {
    if (this.healing || this.closed) return;
    let reopened!: () => void;
    const healing = {
      reopened: new Promise<void>((resolve) => (reopened = resolve)),
      done: Promise.resolve(),
    };
    this.healing = healing;
    this.writer.stop();
    healing.done = this.serialized(() => this.repair(reason, reopened))
      .then(
        () => undefined,
        (error: unknown) => this.options.log.error('repairing the memory index failed', { error }),
      )
      .finally(() => {
        reopened();
        if (this.healing === healing) this.healing = null;
      });
  }

  /** A failed write: retried after a backoff, or the store is repaired if it is damaged. */
  private async writeFailed(error: Error, attempt: number): Promise<'retry' | 'abandon'> {
    this.publish();
    if (this.closed) return 'abandon';
    const kind = failureKind(error);
    // A repair cannot help a full disk, nor twice in a row (a .keel folder Keel may not write).
    if (kind === 'full' || this.healing || this.repairsWithoutProgress >= 2) return 'retry';
    if (kind === 'permission') {
      this.startRepair(`the memory index could not be written (${firstLine(error)})`);
      return 'abandon';
    }
    if (await this.checkHealth(error)) return 'abandon';
    if (attempt >= 3) {
      this.startRepair(`writing the memory index failed ${attempt} times in a row (${firstLine(error)})`);
      return 'abandon';
    }
    return 'retry';
  }

  private async repair(reason: string, reopened: () => void = () => undefined): Promise<RunResult> {
    const at = new Date().toISOString();
    this.options.log.warn(`repairing the memory index: ${reason}`);
    this.rebuilding = true;
    this.repairsWithoutProgress++;
    this.publish();
    try {
      this.writer.stop();
      await closeBoth(this.stores);
      const stateDir = join(this.options.root, '.keel');
      const moved = await quarantineStores(stateDir);
      const fresh = await openStores(stateDir, this.embedder.dimensions, this.options.log);
      await fresh.catalog.setMeta('index_identity', `${INDEX_FORMAT}|${this.embedder.id}`);
      this.stores = fresh;
      this.writer = this.newWriter(new Map());
      reopened();
      const what = `${at}: ${reason}; ${movedText(moved)}`;
      this.recovery = `${what}the index is rebuilding from the files (searches answer from what is rebuilt so far).`;
      this.publish();
      const result = await this.reconcile();
      this.recovery = joinRepairs(
        `${what}the index was rebuilt from the files in ${Date.now() - Date.parse(at)} ms (${result.documents} notes); no note was changed.`,
        fresh.repaired,
      );
      return result;
    } finally {
      this.rebuilding = false;
      this.publish();
    }
  }

  private newWriter(states: Map<string, FileState>): IndexWriter {
    return new IndexWriter(
      {
        root: this.options.root,
        chunkIndex: this.stores.chunkIndex,
        catalog: this.stores.catalog,
        embedder: this.embedder,
        preparer: this.preparer,
        embedInPreparer: this.embedsInPreparer,
        log: this.options.log,
        onProgress: () => this.afterBatch(),
        onWriteFailed: (error, attempt) => this.writeFailed(error, attempt),
        searchesBusy: () => this.searches.waiting > 0,
      },
      states,
    );
  }

  private afterBatch(): void {
    if (!this.writer.failing && this.writer.lastChangeAt) this.repairsWithoutProgress = 0;
    this.publish();
    this.countWrite();
    if (this.writer.pending > 0 || this.writer.progress) return;
    // The queue is empty: refresh counts and problems, build missing indexes, plan an optimize.
    this.scheduleOptimize();
    this.upkeep(
      this.refreshSummary().catch((error: unknown) =>
        this.options.log.warn('index upkeep failed', { error }),
      ),
    );
  }

  /** Background work close() waits for (it reads the stores). */
  private upkeep(work: Promise<void>): void {
    this.upkeeps.add(work);
    void work.finally(() => this.upkeeps.delete(work));
  }

  /**
   * After a large run of writes (a cold index, a big sync) and the index builds after it, a full
   * collection here and in the worker: V8 would keep what they left (at 100,000 chunks about
   * 100 MB of dead objects and Arrow buffers) for as long as the daemon stays quiet. Not after a
   * few saves, which leave little: the pause was 225 ms at that size on a busy 2-core machine.
   */
  private async collectAfterBulk(): Promise<void> {
    const writer = this.writer;
    const since = writer === this.collected.writer ? this.collected.files : 0;
    if (writer.filesWritten - since < COLLECT_AFTER_FILES || writer.pending > 0 || this.closed) return;
    this.collected = { writer, files: writer.filesWritten };
    const started = Date.now();
    collectGarbage();
    if (!this.closed) await this.preparer.collectGarbage?.();
    this.options.log.info('freed the memory indexing left', { ms: Date.now() - started });
  }

  /** Counts a batch written to the index; optimizes at once when enough were, or long enough ago. */
  private countWrite(): void {
    const change = this.writer.lastChangeAt;
    if (change === null || change === this.unoptimized.lastChange) return;
    if (this.unoptimized.writes === 0) this.unoptimized.since = Date.now();
    this.unoptimized.writes++;
    this.unoptimized.lastChange = change;
    const { writes, since } = this.unoptimized;
    if (writes >= OPTIMIZE_AFTER_WRITES || Date.now() - since >= OPTIMIZE_WITHIN_MS) this.optimize(false);
  }

  private scheduleOptimize(): void {
    if (this.optimizeTimer) clearTimeout(this.optimizeTimer);
    this.optimizeTimer = setTimeout(() => {
      this.optimizeTimer = null;
      if (this.writer.pending === 0 && (this.unoptimized.writes > 0 || this.indexesBehind))
        this.optimize(true);
    }, OPTIMIZE_AFTER_IDLE_MS);
    this.optimizeTimer.unref();
  }

  private optimize(full: boolean): void {
    if (this.closed || this.rebuilding) return;
    const writes = this.unoptimized.writes;
    this.unoptimized.writes = 0;
    // Only a full optimization checks the indexes; a failed one is retried with the next writes'.
    if (full) this.indexesBehind = false;
    const started = Date.now();
    this.stores.chunkIndex.optimize({ full }).then(
      (done) => {
        const ms = Date.now() - started;
        if (done === 'compacted') this.options.log.info('optimized the search index', { writes, ms });
        else if (done === 'folded')
          this.options.log.debug('folded the newest writes into the index', { writes, ms });
        else this.optimizeLater(writes); // a compaction was running
      },
      (error: unknown) => {
        this.unoptimized.writes += writes; // retried after the next write, not in a loop
        this.options.log.warn('optimizing the search index failed', { error });
      },
    );
  }

  /**
   * Writes that found an optimization running are optimized at the next pause, not at the next
   * save: left over, they made the first save of the next burst start one in the middle of it (the
   * 20 s rule counts from the oldest of them).
   */
  private optimizeLater(writes: number): void {
    this.unoptimized.writes += writes;
    if (!this.closed) this.scheduleOptimize();
  }

  /**
   * A daemon stopped between a fold and the optimization after it (both when writes pause) leaves
   * rows the full-text index lacks, which every text search scans; nothing in this daemon's life
   * would optimize them until it writes. Checked once the start's comparison with the files is
   * done (a compaction beside it would slow the first searches), and optimized at the next pause
   * as writes are. Not in a single command's memory, where it would compete with the command.
   */
  private checkIndexesBehind(): void {
    // Asking loads the full-text index, as a search would. An index built since the start holds
    // every row; one found at the start was loaded by the start's warm-up search already.
    if (!this.stores.chunkIndex.foundIndexed) return;
    this.upkeep(
      this.stores.chunkIndex.unindexedRows().then(
        (rows) => {
          if (rows === 0 || this.closed) return;
          this.options.log.info('the search index lacks rows; it will take them at the first pause', {
            rows,
          });
          this.indexesBehind = true;
          this.scheduleOptimize();
        },
        (error: unknown) => this.options.log.warn('could not check the search index', { error }),
      ),
    );
  }

  private async refreshSummary(): Promise<void> {
    [this.counts, this.problems] = await Promise.all([
      this.stores.catalog.counts(),
      this.stores.catalog.problems(),
    ]);
    this.buildingIndexes = true;
    this.publish();
    try {
      await this.stores.chunkIndex.maintain({ optimize: false });
      // Before the status says ready: a cold index is done once what it left is freed.
      await this.collectAfterBulk();
    } finally {
      this.buildingIndexes = false;
      this.publish();
    }
  }

  /** Tells clients about the status, at most every NOTIFY_INTERVAL_MS during long work. */
  private publish(): void {
    if (this.notifyTimer || this.closed) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = null;
      if (!this.closed) this.options.onStatus(this.status());
    }, NOTIFY_INTERVAL_MS);
  }
}

/** Today in the operator's time zone, YYYY-MM-DD. */
export function localToday(now = new Date()): string {
  const offset = now.getTimezoneOffset() * 60_000;
  return new Date(now.getTime() - offset).toISOString().slice(0, 10);
}

/** A workspace-relative path, spelled plainly (no `..`, `.`, empty part, backslash or NUL), that the index holds. */
function isRefreshable(path: string): boolean {
  if (path.includes('\\') || path.includes('\0')) return false;
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) return false;
  return isIndexable(path);
}
