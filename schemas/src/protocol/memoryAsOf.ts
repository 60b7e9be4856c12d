/**
 * Memory as of a date: a search answered from the notes as they were in git at that moment (for
 * audits: "what did the agent know when it sent this?").
 */
import { z } from 'zod';
import { defineRequest, lazy } from './define';
import { MemorySearchRequest } from './memory';

/** `2026-03-01` (the end of that day, local time) or an ISO date-time (`2026-03-01T14:05:00Z`). */
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;
/** An abbreviated or full commit id. */
const COMMIT = /^[0-9a-f]{7,40}$/i;

/**
 * When to look at memory: a day, a date-time or a commit id. Checked here so that nothing shaped
 * like an option (`--output=/tmp/x`) or a revision expression (`HEAD@{...}`, `main~3`) ever
 * reaches git, which receives it only as an `execFile` argument anyway.
 */
export const AsOf = lazy(() =>
  z
    .string()
    .trim()
    .min(1, { error: 'give a date (YYYY-MM-DD), an ISO date-time or a commit id' })
    .max(64)
    .refine((value) => !value.startsWith('-'), {
      error: 'an "as of" value never starts with "-" (it would read as an option); give YYYY-MM-DD',
    })
    .refine((value) => DAY.test(value) || DATE_TIME.test(value) || COMMIT.test(value), {
      error: 'give a date (YYYY-MM-DD), an ISO date-time (2026-03-01T14:05:00Z) or a commit id',
    }),
);
export type AsOf = z.infer<typeof AsOf>;

/** What an "as of" value names: a moment (the last commit at or before it) or a commit. */
export function asOfKind(value: string): 'day' | 'dateTime' | 'commit' {
  if (DAY.test(value)) return 'day';
  if (DATE_TIME.test(value)) return 'dateTime';
  return 'commit';
}

export const MemorySnapshot = lazy(() =>
  z.object({
    /** The commit whose notes answered: the last one at or before the requested moment. */
    commit: z.string(),
    /** When that commit was made (committer date, ISO 8601). */
    committedAt: z.string(),
    /** What was asked for, as given. */
    requested: z.string(),
    /** Notes (Markdown and YAML files) in the commit's tree that the index holds. */
    documents: z.number().int().nonnegative(),
    /** Whether the commit's index came from the cache (false: it was built for this search). */
    cached: z.boolean(),
    /** How long building the commit's index took, in milliseconds (0 when cached). */
    buildMs: z.number().nonnegative(),
    /** Files of the tree left out (links, files too large, paths outside the workspace), in words. */
    skipped: z.array(z.string()),
  }),
);
export type MemorySnapshot = z.infer<typeof MemorySnapshot>;

/**
 * `keel/memory/searchAsOf`: the same search as `keel/memory/search` (chunker, embedder, ranking,
 * filters), over the notes as they were in git at `asOf`. Staleness and relative filters count
 * from that moment, as they would have then.
 */
export const MemorySearchAsOfRequest = defineRequest({
  method: 'keel/memory/searchAsOf',
  params: lazy(() => MemorySearchRequest.params.unwrap().extend({ asOf: AsOf.unwrap() })),
  result: lazy(() =>
    MemorySearchRequest.result.unwrap().extend({
      snapshot: MemorySnapshot.unwrap(),
    }),
  ),
});
