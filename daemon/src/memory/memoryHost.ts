/**
 * Runs the workspace's memory plane while the workspace has a keel.yaml, and restarts it when the
 * settings it depends on change (a new embedder rebuilds the index). A memory plane that cannot
 * start (an embeddings endpoint that is down, a key that is missing) is reported, not fatal.
 */
import {
  WorkspaceConfig,
  type IndexStatus,
  type MemoryDocument,
  type SearchFilter,
  type SearchResult,
} from '@keel/schemas';
import { NotInitialized, Unavailable } from '../errors';
import type { Logger } from '../log';
import { firstLine } from './store/stores';
import { MemoryService } from './memoryService';
import type { SearchMode } from './search';
import { RunMemory, type RunJournals } from './runs/runMemory';

export interface MemoryHostOptions {
  root: string;
  log: Logger;
  /** `daemon`: open at once and watch; `in-process`: open on first use and sync once. */
  mode: 'daemon' | 'in-process';
  onStatus: (status: IndexStatus) => void;
}

const DEFAULT_CONFIG = WorkspaceConfig.parse({ version: 1 });

/** Memory as a run reads it: search and read, nothing that changes the index. */
export interface MemoryReader {
  search(query: string, k: number, filter?: SearchFilter): Promise<SearchResult[]>;
  read(path: string): Promise<MemoryDocument>;
  indexedBlob(path: string): Promise<string | null>;
}

export class MemoryHost {
  private service: Promise<MemoryService> | null = null;
  /** In-process mode syncs once, on the first request that needs current results. */
  private synced: Promise<void> | null = null;
  private config: WorkspaceConfig | null = null;
  private settingsKey = '';
  private error: string | null = null;
  /** Finished runs as searchable documents; opened with the notes' index, sharing its embedder. */
  private runs: Promise<RunMemory | null> | null = null;
  private journals: RunJournals | null = null;
  /** Set for good by close(): a request that arrives while the daemon stops opens nothing again. */
  private closed = false;

  constructor(private readonly options: MemoryHostOptions) {}

  /**
   * Applies the workspace config: `null` when there is no keel.yaml (memory off); an invalid file
   * keeps the last valid settings (or the defaults).
   */
  async configure(state: 'missing' | 'valid' | 'invalid', config: WorkspaceConfig | null): Promise<void> {
    if (state === 'missing') {
      await this.stop();
      this.config = null;
      return;
    }
    const next = config ?? this.config ?? DEFAULT_CONFIG;
    const key = JSON.stringify([next.memory, next.models.endpoint]);
    this.config = next;
    if (key === this.settingsKey && (this.service || this.options.mode === 'in-process')) return;
    this.settingsKey = key;
    await this.stop();
    if (this.options.mode === 'daemon' && !this.closed) this.service = this.open(next);
  }

  /**
   * The running memory plane, opened now if need be; throws a clear error when it is unavailable.
   * Without a watcher (in-process mode) the index is first brought up to date, unless `sync` is
   * false because the caller is about to do exactly that.
   */
  async get(options: { sync: boolean } = { sync: true }): Promise<MemoryService> {
    if (this.closed) throw new Unavailable('Keel is stopping: search again once it has started.');
    if (!this.config) {
      throw new NotInitialized(
        'This folder is not a Keel workspace (no keel.yaml): run "keel init" to index and search its memory.',
      );
    }
    this.service ??= this.open(this.config);
    let service: MemoryService;
    try {
      service = await this.service;
    } catch (error) {
      this.service = null;
      throw new Unavailable(`Memory is unavailable: ${firstLine(error)}`);
    }
    if (this.options.mode === 'in-process' && options.sync) {
      this.synced ??= service.sync().then(() => undefined);
      await this.synced;
    }
    return service;
  }

  /**
   * Memory for runs, opened on their first search or read, not before their first step: a runbook
   * that never searches does not wait for the index (without a daemon, `keel run` opened and
   * synced it first, about 3 s), and a memory plane that cannot start fails only the steps that
   * need it. Each search waits until the files saved so far are in the index.
   */
  reader(): MemoryReader {
    return {
      search: async (query, k, filter) => {
        if ((filter?.kind ?? 'note') !== 'run') await (await this.get()).current();
        return this.search({ query, k, ...(filter ? { filter } : {}) });
      },
      read: async (path) => (await this.get()).get(path),
      indexedBlob: async (path) => (await this.get()).indexedBlob(path),
    };
  }

  /**
   * Searches what the filter's `kind` names: notes (the default), finished runs, or both, merged
   * by score (each list's scores are scaled to 0..1 by the same fusion, so they compare roughly).
   */
  async search(
    params: { query: string; k: number; filter?: SearchFilter | undefined },
    mode: SearchMode = 'hybrid',
  ): Promise<SearchResult[]> {
    const kind = params.filter?.kind ?? 'note';
    const service = await this.get();
    const notes = kind === 'run' ? [] : service.search(params, mode);
    const runs = kind === 'note' ? [] : this.searchRuns(service, params);
    const [noteHits, runHits] = await Promise.all([notes, runs]);
    // Notes keep no `kind` here (absent means a note): a run's recorded retrieval stays as it was.
    if (kind === 'note') return noteHits;
    if (kind === 'run') return runHits;
    return [...noteHits, ...runHits].sort((a, b) => b.score - a.score).slice(0, params.k);
  }

  /**
   * Where finished runs are read from (the conductor's journals): indexing starts, and catches up
   * with the runs that ended while nothing indexed them.
   */
  useRunJournals(journals: RunJournals): void {
    this.journals = journals;
    void this.runs?.then((runs) => runs?.use(journals));
  }

  /** A run ended: its document is indexed in the background, off the save and search paths. */
  runEnded(runId: string): void {
    void this.runs?.then((runs) => runs?.ended(runId));
  }

  /** Resolves once every ended run known so far is indexed (tests; `keel` without a daemon). */
  async runsIndexed(): Promise<void> {
    await (await this.runs)?.idle();
  }

  private async searchRuns(
    service: MemoryService,
    params: { query: string; k: number; filter?: SearchFilter | undefined },
  ): Promise<SearchResult[]> {
    if (this.closed) throw new Unavailable('Keel is stopping: search again once it has started.');
    this.runs ??= this.openRuns(service);
    const runs = await this.runs;
    if (!runs) {
      this.runs = null; // the next search tries again
      throw new Unavailable(
        'Run search is unavailable: the run index (.keel/runmem/) could not open; see the daemon log, then search again.',
      );
    }
    // Without a daemon nothing indexed runs in the background: catch up before answering.
    if (this.options.mode === 'in-process') await runs.idle();
    return runs.search(params.query, params.k, params.filter, new Date());
  }

  private async openRuns(service: MemoryService): Promise<RunMemory | null> {
    try {
      const runs = await RunMemory.open(this.options.root, service.queryEmbedder, this.options.log);
      if (this.journals) runs.use(this.journals);
      return runs;
    } catch (error) {
      this.options.log.error(`The run index could not open: ${firstLine(error)}`);
      return null;
    }
  }

  /** The index status, or a description of why there is none. */
  async status(): Promise<IndexStatus> {
    const service = this.service ? await this.service.catch(() => null) : null;
    if (service) return service.status();
    return {
      state: 'opening',
      documents: 0,
      chunks: 0,
      pending: 0,
      progress: null,
      embedder: this.config?.memory.embeddings.provider ?? 'none',
      lastChangeAt: null,
      problems: [],
      recovery: this.error,
    };
  }

  async checkStores(): Promise<void> {
    const service = this.service ? await this.service.catch(() => null) : null;
    await service?.checkStores();
  }

  /**
   * Stops for good (the daemon is exiting): unlike stop(), which a keel.yaml change follows with a
   * fresh open, nothing opens the index or the run index again, so no late search leaves them open
   * after the workspace's lock is released.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  async stop(): Promise<void> {
    const service = this.service;
    this.service = null;
    this.synced = null;
    const running = service ? await service.catch(() => null) : null;
    const runs = this.runs ? await this.runs : null;
    this.runs = null;
    await runs?.close();
    await running?.close();
  }

  private async open(config: WorkspaceConfig): Promise<MemoryService> {
    const started = Date.now();
    try {
      const service = await MemoryService.open({
        root: this.options.root,
        config,
        log: this.options.log,
        watch: this.options.mode === 'daemon',
        onStatus: this.options.onStatus,
      });
      this.error = null;
      this.options.log.info('memory index open', { embedder: service.embedderId, ms: Date.now() - started });
      if (this.options.mode === 'daemon') {
        service.start();
        this.runs = this.openRuns(service);
      }
      return service;
    } catch (error) {
      this.error = `Memory could not start: ${firstLine(error)}`;
      this.options.log.error(this.error);
      throw error;
    }
  }
}
