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

/** The columns of a chunk a filter reads: all of them the note's own. */
export type FilteredFields = Pick<ChunkView, 'path' | 'type' | 'tags' | 'date' | 'review_by'>;

/** One condition of a filter, in both its forms: LanceDB's SQL, and a test of a note's fields. */
interface Clause {
  sql: string;
  test: (note: FilteredFields) => boolean;
}

/** The LanceDB SQL filter for a search filter, or null for none. */
export function filterSql(
  filter: SearchFilter | undefined,
  clock: FilterClock = { now: new Date(), maxAgeDays: 365 },
): string | null {
  const clauses = clausesOf(filter, clock);
  return clauses.length > 0 ? clauses.map((clause) => clause.sql).join(' AND ') : null;
}

/**
 * The filter as a test of one note's fields, deciding exactly as `filterSql`'s clause does in
 * LanceDB (test/integration/filterMatch.test.ts asks both over the same rows), for the chunks
 * search reads from the notes themselves (noteChunks.ts). Null when there is no filter.
 */
export function filterTest(
  filter: SearchFilter | undefined,
  clock: FilterClock = { now: new Date(), maxAgeDays: 365 },
): ((note: FilteredFields) => boolean) | null {
  const clauses = clausesOf(filter, clock);
  return clauses.length > 0 ? (note) => clauses.every((clause) => clause.test(note)) : null;
}

function clausesOf(filter: SearchFilter | undefined, clock: FilterClock): Clause[] {
  if (!filter) return [];
  const clauses: Clause[] = [];
  if (filter.type !== undefined) {
    const types = Array.isArray(filter.type) ? filter.type : [filter.type];
    const wanted = new Set(types);
    clauses.push({
      sql: `type IN (${types.map(sqlString).join(', ')})`,
      test: (note) => note.type !== null && wanted.has(note.type),
    });
  }
  if (filter.tags) {
    const tags = filter.tags;
    const all = filter.tagsMatch === 'all';
    clauses.push({
      sql: `${all ? 'array_has_all' : 'array_has_any'}(tags, [${tags.map(sqlString).join(', ')}])`,
      test: all
        ? (note) => tags.every((tag) => note.tags.includes(tag))
        : (note) => tags.some((tag) => note.tags.includes(tag)),
    });
  }
  for (const path of [filter.pathPrefix, filter.path]) {
    if (path !== undefined) clauses.push(pathClause(path));
  }
  const from = [filter.dateFrom, filter.since && resolveTimeBound(filter.since, clock.now)];
  const to = [filter.dateTo, filter.until && resolveTimeBound(filter.until, clock.now)];
  for (const day of from) {
    if (day)
      clauses.push({
        sql: `date >= ${sqlString(day)}`,
        test: (note) => note.date !== null && note.date >= day,
      });
  }
  for (const day of to) {
    if (day)
      clauses.push({
        sql: `date <= ${sqlString(day)}`,
        test: (note) => note.date !== null && note.date <= day,
      });
  }
  if (filter.excludeStale) clauses.push(freshClause(clock));
  return clauses;
}

/** Not stale, exactly as `isStale` decides: a review-by day still ahead, or a recent enough date. */
function freshClause(clock: FilterClock): Clause {
  const today = localDay(clock.now);
  const cutoff = new Date(`${today}T00:00:00Z`);
  cutoff.setUTCDate(cutoff.getUTCDate() - clock.maxAgeDays);
  const oldest = cutoff.toISOString().slice(0, 10);
  return {
    sql:
      `((review_by IS NOT NULL AND review_by >= ${sqlString(today)}) OR ` +
      `(review_by IS NULL AND (date IS NULL OR date >= ${sqlString(oldest)})))`,
    test: (note) =>
      note.review_by !== null ? note.review_by >= today : note.date === null || note.date >= oldest,
  };
}

/** A prefix (`memory/customers/`) or a glob (`memory/**\/*.md`) over workspace-relative paths. */
function pathClause(value: string): Clause {
  const path = containedPathFilter(value);
  if (path === null) {
    throw new Error(
      `The path filter "${value}" leaves the workspace; give a workspace-relative folder or glob.`,
    );
  }
  if (!isPathGlob(path)) {
    return { sql: `starts_with(path, ${sqlString(path)})`, test: (note) => note.path.startsWith(path) };
  }
  const regex = globRegex(path);
  const compiled = new RegExp(regex, 'u');
  return { sql: `regexp_like(path, ${sqlString(regex)})`, test: (note) => compiled.test(note.path) };
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
