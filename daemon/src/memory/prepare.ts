/**
 * Turning a file's content into what the index stores (parse, chunk, the text to search and, with
 * the local embedder, its vectors) happens on the daemon's worker thread: a hostile or merely huge
 * note costs that thread time, never the main thread's. A file that takes longer than the deadline
 * is that file's problem, reported like a parse error.
 */
import type { Logger } from '../log';
import { WorkerThread, WorkerTimeoutError } from '../runtime/workerThread';
import type { PreparedFile } from '../runtime/workerTasks';
import { parseFile, rejectedFile } from './parse/index';
import { searchTextOf } from './searchText';

/** One file's parse and embedding; a normal note takes milliseconds. */
export const PREPARE_TIMEOUT_MS = 10_000;

export interface FilePreparer {
  /** `embed`: also compute the vectors (only when the configured embedder is the local one). */
  prepare(path: string, content: string, embed: boolean): Promise<PreparedFile>;
  close(): Promise<void>;
}

/** In the calling thread: for tools that measure the pieces (the benchmarks), never the daemon. */
export const inProcessPreparer: FilePreparer = {
  prepare(path, content) {
    const parsed = parseFile(path, content);
    const searchTexts = parsed.ok
      ? parsed.file.chunks.map((chunk) => searchTextOf(parsed.file.frontmatter, chunk))
      : [];
    return Promise.resolve({ parsed, searchTexts, vectors: null });
  },
  close: () => Promise.resolve(),
};

export class WorkerPreparer implements FilePreparer {
  private readonly thread = new WorkerThread({ name: 'memory', timeoutMs: PREPARE_TIMEOUT_MS });

  constructor(private readonly log: Logger) {}

  async prepare(path: string, content: string, embed: boolean): Promise<PreparedFile> {
    try {
      return await this.thread.call('prepareFile', { path, content, embed });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.warn('a file could not be prepared for the index', { path, error: message });
      const why =
        error instanceof WorkerTimeoutError
          ? `Reading it took longer than ${PREPARE_TIMEOUT_MS / 1000} s, so it was stopped`
          : `It could not be read as a note (${message})`;
      return {
        parsed: rejectedFile(path, 1, `${why}. The file is not indexed.`),
        searchTexts: [],
        vectors: null,
      };
    }
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
