/**
 * Turning a file's content into what the index stores (parse, chunk, the text to search and, with
 * the local embedder, its vectors) happens on the daemon's worker thread: a hostile or merely huge
 * note costs that thread time, never the main thread's. Files go in small groups (one round trip
 * each); a group past its deadline is retried file by file, and the file that still takes too long
 * is that file's problem, reported like a parse error.
 */
import type { Logger } from '../log';
import { WorkerThread, WorkerTimeoutError } from '../runtime/workerThread';
import type { PreparedFile, WorkerData } from '../runtime/workerTasks';
import { sharedWordTable } from './embed/local';
import { parseFile, rejectedFile } from './parse/index';
import { searchTextOf } from './searchText';

/** One group's (or file's) parse and embedding; a normal note takes a millisecond. */
export const PREPARE_TIMEOUT_MS = 10_000;
/** A group holds at most this many files, or this many characters. */
const GROUP_FILES = 64;
const GROUP_CHARS = 512 * 1024;

export interface FileToPrepare {
  path: string;
  content: string;
}

export interface FilePreparer {
  /** `embed`: also compute the vectors (only when the configured embedder is the local one). */
  prepare(files: FileToPrepare[], embed: boolean): Promise<PreparedFile[]>;
  /** Frees what a large run of `prepare` left behind, where that runs in a thread of its own. */
  collectGarbage?(): Promise<void>;
  /** Gets ready for a first file ahead of it, where that takes a thread's start (nothing to wait for). */
  warm?(embed: boolean): void;
  close(): Promise<void>;
}

/** In the calling thread: for tools that measure the pieces (the benchmarks), never the daemon. */
export const inProcessPreparer: FilePreparer = {
  prepare(files) {
    return Promise.resolve(
      files.map(({ path, content }) => {
        const parsed = parseFile(path, content);
        const searchTexts = parsed.ok
          ? parsed.file.chunks.map((chunk) => searchTextOf(parsed.file.frontmatter, chunk))
          : [];
        return { parsed, searchTexts, vectors: null };
      }),
    );
  },
  close: () => Promise.resolve(),
};

/** What the worker prepares to warm up: never indexed (its answer is dropped). */
const WARM_UP_NOTE: FileToPrepare = {
  path: 'keel-warm-up.md',
  content: '---\ntype: note\ntags: [keel]\n---\n# Warm-up\n\nA note the worker reads when it starts.\n',
};

export class WorkerPreparer implements FilePreparer {
  private readonly thread = new WorkerThread({
    name: 'memory',
    timeoutMs: PREPARE_TIMEOUT_MS,
    // The word table this thread read for queries (shared memory): the worker embeds with it.
    workerData: (): WorkerData => ({ wordTable: sharedWordTable() }),
  });

  constructor(private readonly log: Logger) {}

  async prepare(files: FileToPrepare[], embed: boolean): Promise<PreparedFile[]> {
    const prepared: PreparedFile[] = [];
    for (const group of groups(files)) prepared.push(...(await this.prepareGroup(group, embed)));
    return prepared;
  }

  /**
   * Starts the thread and prepares a note of its own there, which loads its parser and embedder:
   * otherwise the first save after a start waits for them (250-300 ms here). Nothing when a
   * thread runs already; a failure only means the first real file starts it, as before.
   */
  warm(embed: boolean): void {
    if (this.thread.started) return;
    this.thread.call('prepareFiles', { files: [WARM_UP_NOTE], embed }).catch(() => undefined);
  }

  /** A full collection in the worker, when one runs (none is started for it). */
  async collectGarbage(): Promise<void> {
    if (this.thread.started) await this.thread.call('collectGarbage', null);
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  private async prepareGroup(files: FileToPrepare[], embed: boolean): Promise<PreparedFile[]> {
    try {
      return await this.thread.call('prepareFiles', { files, embed });
    } catch (error) {
      // Which file was slow? Each alone: the others are done in milliseconds.
      if (files.length > 1) {
        const one: PreparedFile[] = [];
        for (const file of files) one.push(...(await this.prepareGroup([file], embed)));
        return one;
      }
      const path = files[0]!.path;
      const message = error instanceof Error ? error.message : String(error);
      this.log.warn('a file could not be prepared for the index', { path, error: message });
      const why =
        error instanceof WorkerTimeoutError
          ? `Reading it took longer than ${PREPARE_TIMEOUT_MS / 1000} s, so it was stopped`
          : `It could not be read as a note (${message})`;
      return [
        { parsed: rejectedFile(path, 1, `${why}. The file is not indexed.`), searchTexts: [], vectors: null },
      ];
    }
  }
}

function groups(files: FileToPrepare[]): FileToPrepare[][] {
  const out: FileToPrepare[][] = [];
  let current: FileToPrepare[] = [];
  let chars = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= GROUP_FILES || chars + file.content.length > GROUP_CHARS)) {
      out.push(current);
      current = [];
      chars = 0;
    }
    current.push(file);
    chars += file.content.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}
