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
    if (this.options.mode === 'daemon') this.service = this.open(next);
  }

  /**
   * The running memory plane, opened now if need be; throws a clear error when it is unavailable.
   * Without a watcher (in-process mode) the index is first brought up to date, unless `sync` is
   * false because the caller is about to do exactly that.
   */
  async get(options: { sync: boolean } = { sync: true }): Promise<MemoryService> {
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
        const service = await this.get();
        await service.current();
        return service.search({ query, k, ...(filter ? { filter } : {}) });
      },
      read: async (path) => (await this.get()).get(path),
      indexedBlob: async (path) => (await this.get()).indexedBlob(path),
    };
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

  async stop(): Promise<void> {
    const service = this.service;
    this.service = null;
    this.synced = null;
    const running = service ? await service.catch(() => null) : null;
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
      if (this.options.mode === 'daemon') service.start();
      return service;
    } catch (error) {
      this.error = `Memory could not start: ${firstLine(error)}`;
      this.options.log.error(this.error);
      throw error;
    }
  }
}
