/**
 * A search filter as a LanceDB `where` clause: LanceDB applies it before ranking (a prefilter on
 * the indexed `type`, `tags`, `path`, `date` and `review_by` columns), so a narrow filter makes a
 * search cheaper, never slower, and `k` results are still `k` once filtered.
 *
 * Every value goes in as a quoted SQL string (`sqlString`), and a path glob becomes an anchored
 * regular expression with every other character escaped: a filter value can narrow the search but
 * never change the clause's shape.
 */
import {
  containedPathFilter,
  isPathGlob,
  localDay,
  resolveTimeBound,
  type SearchFilter,
} from '@keel/schemas';
import { sqlString, type ChunkView } from './store/chunkIndex';

export interface FilterClock {
  /** Relative windows (`30d`) and staleness count back from this moment. */
  now: Date;
  /** The workspace's `memory.maxAgeDays`: an undated-for-review note older than this is stale. */
  maxAgeDays: number;
}

/** The LanceDB SQL filter for a search filter, or null for none. */
export function filterSql(
  filter: SearchFilter | undefined,
  clock: FilterClock = { now: new Date(), maxAgeDays: 365 },
): string | null {
  if (!filter) return null;
  const clauses: string[] = [];
  if (filter.type !== undefined) {
    const types = Array.isArray(filter.type) ? filter.type : [filter.type];
    clauses.push(`type IN (${types.map(sqlString).join(', ')})`);
  }
  if (filter.tags) {
    const match = filter.tagsMatch === 'all' ? 'array_has_all' : 'array_has_any';
    clauses.push(`${match}(tags, [${filter.tags.map(sqlString).join(', ')}])`);
  }
  for (const path of [filter.pathPrefix, filter.path]) {
    if (path !== undefined) clauses.push(pathClause(path));
  }
  const from = [filter.dateFrom, filter.since && resolveTimeBound(filter.since, clock.now)];
  const to = [filter.dateTo, filter.until && resolveTimeBound(filter.until, clock.now)];
  for (const day of from) if (day) clauses.push(`date >= ${sqlString(day)}`);
  for (const day of to) if (day) clauses.push(`date <= ${sqlString(day)}`);
  if (filter.excludeStale) clauses.push(`(${freshClause(clock)})`);
  return clauses.length > 0 ? clauses.join(' AND ') : null;
}

/** The columns of a chunk a filter reads: all of them the note's own. */
export type FilteredFields = Pick<ChunkView, 'path' | 'type' | 'tags' | 'date' | 'review_by'>;

/**
 * The filter as a test of one note's fields, deciding exactly as `filterSql`'s clause does in
 * LanceDB (test/integration/filterMatch.test.ts asks both over the same rows), for the chunks
 * search reads from the notes themselves (noteChunks.ts). Null when there is no filter.
 */
export function filterTest(
  filter: SearchFilter | undefined,
  clock: FilterClock = { now: new Date(), maxAgeDays: 365 },
): ((note: FilteredFields) => boolean) | null {
  if (!filter) return null;
  const tests: ((note: FilteredFields) => boolean)[] = [];
  if (filter.type !== undefined) {
    const types = new Set(Array.isArray(filter.type) ? filter.type : [filter.type]);
    tests.push((note) => note.type !== null && types.has(note.type));
  }
  if (filter.tags) {
    const wanted = filter.tags;
    tests.push(
      filter.tagsMatch === 'all'
        ? (note) => wanted.every((tag) => note.tags.includes(tag))
        : (note) => wanted.some((tag) => note.tags.includes(tag)),
    );
  }
  for (const path of [filter.pathPrefix, filter.path]) {
    if (path !== undefined) tests.push(pathTest(path));
  }
  const from = [filter.dateFrom, filter.since && resolveTimeBound(filter.since, clock.now)];
  const to = [filter.dateTo, filter.until && resolveTimeBound(filter.until, clock.now)];
  for (const day of from) if (day) tests.push((note) => note.date !== null && note.date >= day);
  for (const day of to) if (day) tests.push((note) => note.date !== null && note.date <= day);
  if (filter.excludeStale) {
    const { today, oldest } = freshDays(clock);
    tests.push((note) =>
      note.review_by !== null ? note.review_by >= today : note.date === null || note.date >= oldest,
    );
  }
  return tests.length === 0 ? null : (note) => tests.every((test) => test(note));
}

function pathTest(value: string): (note: FilteredFields) => boolean {
  const path = containedPath(value);
  if (!isPathGlob(path)) return (note) => note.path.startsWith(path);
  const regex = new RegExp(globRegex(path), 'u');
  return (note) => regex.test(note.path);
}

/** Today, and the oldest day a note without a review-by date stays fresh. */
function freshDays(clock: FilterClock): { today: string; oldest: string } {
  const today = localDay(clock.now);
  const cutoff = new Date(`${today}T00:00:00Z`);
  cutoff.setUTCDate(cutoff.getUTCDate() - clock.maxAgeDays);
  return { today, oldest: cutoff.toISOString().slice(0, 10) };
}

/** Not stale, exactly as `isStale` decides: a review-by day still ahead, or a recent enough date. */
function freshClause(clock: FilterClock): string {
  const { today, oldest } = freshDays(clock);
  return (
    `(review_by IS NOT NULL AND review_by >= ${sqlString(today)}) OR ` +
    `(review_by IS NULL AND (date IS NULL OR date >= ${sqlString(oldest)}))`
  );
}

/** A prefix (`memory/customers/`) or a glob (`memory/**\/*.md`) over workspace-relative paths. */
function pathClause(value: string): string {
  const path = containedPath(value);
  if (!isPathGlob(path)) return `starts_with(path, ${sqlString(path)})`;
  return `regexp_like(path, ${sqlString(globRegex(path))})`;
}

function containedPath(value: string): string {
  const path = containedPathFilter(value);
  if (path === null) {
    throw new Error(
      `The path filter "${value}" leaves the workspace; give a workspace-relative folder or glob.`,
    );
  }
  return path;
}

/** `**\/` any folders (or none), `**` anything, `*` within one folder, `?` one character. */
export function globRegex(glob: string): string {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (glob.startsWith('**/', i)) {
      out += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      out += '.*';
      i += 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[\\^$.|+(){}[\]]/g, '\\$&');
  }
  return `${out}$`;
}
