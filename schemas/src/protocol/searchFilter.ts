/**
 * The one memory search filter. The `keel/memory/search` RPC, a runbook's `retrieve` step, the
 * agent's `memory_search` tool, the MCP server and `keel search` flags all take this shape, so a
 * filter means the same wherever it is written. Pure (no Node): the extension and the CLI check
 * filters with it before they reach the daemon.
 *
 * A note's date is its frontmatter `date`, else `updated`, else `created`, else the day its file was
 * last modified: what the index stores in its `date` column. Dates are days (YYYY-MM-DD, local
 * time), so `since: 12h` keeps notes dated on the day 12 hours ago or later.
 */
import { z } from 'zod';
import { lazy } from './define';

/** Said in every error about a time bound, so the fix is in the message. */
export const TIME_BOUND_FORMS =
  'a window back from now: a number and h, d or w (`12h`, `30d`, `2w`), or a date `YYYY-MM-DD`';

const RELATIVE = /^(\d{1,5})([hdw])$/;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOURS: Record<string, number> = { h: 1, d: 24, w: 24 * 7 };

function isIsoDay(value: string): boolean {
  const match = ISO_DAY.exec(value);
  if (!match) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function isTimeBound(value: string): boolean {
  return RELATIVE.test(value) || isIsoDay(value);
}

/** `30d`, `12h`, `2w` or `2026-11-30`. */
export const TimeBound = lazy(() =>
  z
    .string()
    .trim()
    .refine(isTimeBound, {
      error: (issue) => `"${String(issue.input)}" is not a time: write ${TIME_BOUND_FORMS}`,
    }),
);

/** The local day (YYYY-MM-DD) a time bound names, counted back from `now` when it is relative. */
export function resolveTimeBound(bound: string, now: Date = new Date()): string {
  const relative = RELATIVE.exec(bound.trim());
  if (!relative) {
    if (!isIsoDay(bound.trim())) throw new Error(`"${bound}" is not a time: write ${TIME_BOUND_FORMS}`);
    return bound.trim();
  }
  return localDay(new Date(now.getTime() - Number(relative[1]) * HOURS[relative[2]!]! * 3_600_000));
}

/** The local calendar day of a moment, YYYY-MM-DD: the unit notes are dated in. */
export function localDay(moment: Date): string {
  return new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

const GLOB = /[*?]/;

/**
 * A workspace-relative path with forward slashes and no `./` (`''` for `.` or `./`: the whole
 * workspace), or null when it would leave the workspace (absolute, a drive, `..`, control characters).
 */
export function containedPathFilter(value: string): string | null {
  const path = value
    .trim()
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/^\.$/, '');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return null;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f]/.test(path) || path.split('/').some((segment) => segment === '..')) return null;
  return path;
}

export function isPathGlob(path: string): boolean {
  return GLOB.test(path);
}

const PATH_FORMS =
  'a workspace-relative folder or file prefix (`memory/customers/`) or glob (`memory/**/*.md`; `*` stays within a folder, `**` crosses folders), without `..` or a leading `/`';

const PathFilter = lazy(() =>
  z
    .string()
    .min(1)
    .max(500)
    .refine((value) => containedPathFilter(value) !== null, {
      error: (issue) => `path "${String(issue.input)}" leaves the workspace: write ${PATH_FORMS}`,
    }),
);

const IsoDate = lazy(() => z.iso.date());

/** What a search looks at: notes, finished runs, or both. */
export const SearchKind = lazy(() => z.enum(['note', 'run', 'any']));
export type SearchKind = z.infer<typeof SearchKind>;

export const SearchFilter = lazy(() =>
  z.strictObject({
    /** Frontmatter `type`, one or several (`customer`, `contract`). */
    type: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** Frontmatter tags; a note matches when it carries any of them (or all, with `tagsMatch: all`). */
    tags: z.array(z.string()).min(1).optional(),
    /** `any` (the default): at least one of `tags`; `all`: every one of them. */
    tagsMatch: z.enum(['any', 'all']).optional(),
    /** Folder or file prefix (`memory/customers/`) or glob (`memory/**\/*.md`), inside the workspace. */
    path: PathFilter.unwrap().optional(),
    /** Older spelling of `path` as a prefix; kept so existing runbooks and scripts still work. */
    pathPrefix: PathFilter.unwrap().optional(),
    /** Notes dated on or after this time: `30d`, `12h`, `2w` back from now, or `YYYY-MM-DD`. */
    since: TimeBound.unwrap().optional(),
    /** Notes dated on or before this time: `7d` (a week ago or earlier) or `YYYY-MM-DD`. */
    until: TimeBound.unwrap().optional(),
    /** Notes dated on or after this day (as `since` with a date). */
    dateFrom: IsoDate.unwrap().optional(),
    /** Notes dated on or before this day (as `until` with a date). */
    dateTo: IsoDate.unwrap().optional(),
    /** Leave out stale notes (past `review-by`, or older than the workspace's `memory.maxAgeDays`). */
    excludeStale: z.boolean().optional(),
    /**
     * What to search: `note` (the default: workspace notes, as before), `run` (finished runs, indexed
     * from their journals: runbook, inputs, outcome, decisions and the operator's reasons) or `any`.
     * Notes stay the default so a runbook's `retrieve` step or a plain search never quotes a past run
     * unasked; an agent's `memory_search` looks at runs only when it says `kind: run` or `any`.
     * Runs have no type, tags or path: with one of those filters set, only notes match.
     */
    kind: SearchKind.unwrap().optional(),
  }),
);
export type SearchFilter = z.infer<typeof SearchFilter>;
