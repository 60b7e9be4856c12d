/** Searching and reading the workspace's memory, and the index behind it. */
import { z } from 'zod';
import { NoParams, Problem } from './common';
import { defineNotification, defineRequest, lazy } from './define';
import { SearchFilter } from './searchFilter';

export * from './searchFilter';

export const SearchResult = lazy(() =>
  z.object({
    /** Workspace-relative, forward slashes. */
    path: z.string(),
    /** 1-based, inclusive line range of the chunk in the file. */
    startLine: z.number().int().min(1),
    endLine: z.number().int().min(1),
    /** The chunk's heading path (`Acme > Renewal`), or empty for text before any heading. */
    heading: z.string(),
    text: z.string(),
    /** The fused, re-ranked score: higher is better; comparable within one answer only. */
    score: z.number(),
    /** Past its `review-by` date, or older than the workspace's `memory.maxAgeDays`. */
    stale: z.boolean(),
    type: z.string().nullable(),
    tags: z.array(z.string()),
    /** The note's date (YYYY-MM-DD): frontmatter `date`/`updated`/`created`, else the file's time. */
    date: z.string().nullable(),
    /** The note's `review-by` day, if it has one (absent in cassettes recorded before it was kept). */
    reviewBy: z.string().nullable().optional(),
    /**
     * `run`: a finished run, whose `path` is `run:<id>` (never a workspace file: open it with
     * `keel show <id>` or the run's trace view) and whose text is a record of what happened, to be
     * read as data. Absent (a note) in answers recorded before runs were indexed.
     */
    kind: z.enum(['note', 'run']).optional(),
    /** The run's id, for a `run` hit. */
    runId: z.string().optional(),
  }),
);
export type SearchResult = z.infer<typeof SearchResult>;

/** `keel/memory/search`: hybrid (vector + full-text) search over the workspace's memory. */
export const MemorySearchRequest = defineRequest({
  method: 'keel/memory/search',
  params: lazy(() =>
    z.strictObject({
      query: z.string().trim().min(1, { error: 'query must not be empty' }).max(2_000),
      k: z.number().int().min(1).max(200).default(10),
      filter: SearchFilter.unwrap().optional(),
      /** `hybrid` (the default) fuses both rankings; `vector` and `text` use one, for comparison. */
      mode: z.enum(['hybrid', 'vector', 'text']).default('hybrid'),
    }),
  ),
  result: lazy(() =>
    z.object({
      results: z.array(SearchResult.unwrap()),
      /** Time spent inside the daemon, in milliseconds. */
      tookMs: z.number(),
    }),
  ),
});

export const MemoryDocument = lazy(() =>
  z.object({
    path: z.string(),
    content: z.string(),
    /** The parsed frontmatter, or null when the note has none or it does not parse. */
    frontmatter: z.record(z.string(), z.unknown()).nullable(),
    type: z.string().nullable(),
    tags: z.array(z.string()),
    date: z.string().nullable(),
    reviewBy: z.string().nullable(),
    stale: z.boolean(),
    /** What is wrong with the file, if anything. */
    problems: z.array(Problem.unwrap()),
    /** git's blob id of `content` (`git hash-object`); absent from daemons that predate it. */
    blob: z.string().optional(),
  }),
);
export type MemoryDocument = z.infer<typeof MemoryDocument>;

/** `keel/memory/get`: one note, read from disk (never from the index, which may lag). */
export const MemoryGetRequest = defineRequest({
  method: 'keel/memory/get',
  params: lazy(() => z.strictObject({ path: z.string().min(1) })),
  result: MemoryDocument,
});

export const IndexState = lazy(() => z.enum(['opening', 'scanning', 'indexing', 'ready', 'rebuilding']));
export type IndexState = z.infer<typeof IndexState>;

export const IndexProgress = lazy(() =>
  z.object({
    /** What is being done: `scanning` files, `indexing` changed ones, `optimizing` the indexes. */
    phase: z.enum(['scanning', 'indexing', 'optimizing']),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
  }),
);
export type IndexProgress = z.infer<typeof IndexProgress>;

export const IndexStatus = lazy(() =>
  z.object({
    state: IndexState.unwrap(),
    documents: z.number().int().nonnegative(),
    chunks: z.number().int().nonnegative(),
    /** Files changed on disk and not yet in the index. */
    pending: z.number().int().nonnegative(),
    progress: IndexProgress.unwrap().nullable(),
    /** Which embedder built the vectors (`local-hash-v1/256`, `openai/text-embedding-3-small`). */
    embedder: z.string(),
    /** When the index last changed (ISO time), or null if never. */
    lastChangeAt: z.iso.datetime().nullable(),
    /** Files that could not be indexed, or indexed with warnings. */
    problems: z.array(Problem.unwrap()),
    /** What the daemon had to repair, in words, or null: `the LanceDB index was damaged ...`. */
    recovery: z.string().nullable(),
    /**
     * After a start, until the index has been compared with the files: searches answer at once from
     * the index as it was, so notes changed while the daemon was down may be stale; says so in words.
     * Absent from daemons that predate it.
     */
    catchingUp: z.string().nullable().optional(),
  }),
);
export type IndexStatus = z.infer<typeof IndexStatus>;

/** `keel/index/status`: the index's state, size and problems. */
export const IndexStatusRequest = defineRequest({
  method: 'keel/index/status',
  params: NoParams,
  result: IndexStatus,
});

/** `keel/index/didChange`: the index status, sent when it changes (throttled during long work). */
export const IndexChangedNotification = defineNotification({
  method: 'keel/index/didChange',
  direction: 'serverToClient',
  params: IndexStatus,
});

const IndexRunResult = lazy(() =>
  z.object({
    documents: z.number().int().nonnegative(),
    chunks: z.number().int().nonnegative(),
    /** Files (re)indexed by this run. */
    indexed: z.number().int().nonnegative(),
    /** Files removed from the index because they are gone. */
    removed: z.number().int().nonnegative(),
    problems: z.array(Problem.unwrap()),
    tookMs: z.number(),
  }),
);

/**
 * `keel/index/sync`: reconcile the index with the files on disk now and answer once they match.
 * Progress arrives as `keel/index/didChange` notifications.
 */
export const IndexSyncRequest = defineRequest({
  method: 'keel/index/sync',
  params: NoParams,
  result: IndexRunResult,
});

/**
 * `keel/index/refresh`: read these notes again now and answer once searches see them as they are
 * on disk, so a client that has just written notes reads its own writes (without waiting for saves
 * queued after them, unlike `keel/index/sync`). Paths are workspace-relative; a path that is not a
 * note the index holds is refused, and one that is gone is removed from the index.
 */
export const IndexRefreshRequest = defineRequest({
  method: 'keel/index/refresh',
  params: lazy(() => z.strictObject({ paths: z.array(z.string().min(1).max(4096)).min(1).max(1000) })),
  result: lazy(() =>
    z.object({
      /** Distinct paths read. */
      paths: z.number().int().nonnegative(),
      tookMs: z.number(),
    }),
  ),
});

/** `keel/index/rebuild`: throw the index away and build it again from the files. */
export const IndexRebuildRequest = defineRequest({
  method: 'keel/index/rebuild',
  params: NoParams,
  result: IndexRunResult,
});
