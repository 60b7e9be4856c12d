/**
 * Hybrid search: a vector search and a BM25 full-text search run side by side inside LanceDB with
 * the same filter, and their scores are fused (FUSION below); the neighbours of the best matches
 * are lifted (sequence.ts) and the structure priors applied (rerank.ts). Each result says whether
 * its note is stale.
 */
import { MemorySearchConfig, type SearchFilter, type SearchResult } from '@keel/schemas';
import type { Embedder } from './embed/embedder';
import { structureRerank } from './rerank';
import { liftNeighbours, type FolderOrder, type NoteChunkReader } from './sequence';
import type { NoteChunks } from './noteChunks';
import { fullTextQuery } from './searchText';
import { filterSql, filterTest, type FilterClock } from './filterSql';
import type { ChunkHit, ChunkIndex, ChunkView } from './store/chunkIndex';

export { filterSql } from './filterSql';

export interface SearchOptions {
  query: string;
  k: number;
  filter?: SearchFilter | undefined;
  /** Notes older than this many days (without a future review-by date) are stale. */
  maxAgeDays: number;
  /** Today, YYYY-MM-DD (a parameter so tests can move time). */
  today: string;
  /** Now: relative windows (`since: 30d`) count back from it. */
  now?: Date;
  /**
   * The archive of expired working memory (`memory/archive/`): left out of results unless the
   * filter's path asks for it (`path: memory/archive/**`), so expired notes stop crowding searches.
   */
  archiveDir?: string;
  /** Ranking settings (keel.yaml `memory.search`); the defaults when absent. */
  tuning?: MemorySearchConfig;
  /** The workspace's folders in name order: with it, the neighbours of the best matches are lifted. */
  folderOrder?: FolderOrder;
  /** Reads the lifted neighbours from the notes themselves where that gives what the index holds. */
  notes?: NoteChunks;
}

/**
 * The archive's folder (with its trailing slash) when search leaves it out, or null when the
 * filter's path or prefix asks for it.
 */
function archiveLeftOut(filter: SearchFilter | undefined, archiveDir: string): string | null {
  const dir = archiveDir.endsWith('/') ? archiveDir : `${archiveDir}/`;
  const asked = [filter?.path, filter?.pathPrefix].some(
    (path) => typeof path === 'string' && path.replace(/^(\.\/)+/, '').startsWith(dir),
  );
  return asked ? null : dir;
}

/** `where` with the notes under `dir` left out. */
function withoutFolder(where: string | null, dir: string): string {
  const excluded = `NOT starts_with(path, '${dir.replace(/'/g, "''")}')`;
  return where === null ? excluded : `(${where}) AND ${excluded}`;
}

/**
 * The hits of `search` outside the archive. A condition in the query is evaluated on every row
 * before LanceDB ranks (at 100,000 chunks it doubled the cost of an unfiltered vector or full-text
 * query), so the query is first asked without it: when no archived chunk made the list, the list
 * is the one the condition would give (the best hits overall are the best outside the archive);
 * otherwise it is asked again with it.
 */
async function outsideArchive(
  search: (where: string | null) => Promise<ChunkHit[]>,
  where: string | null,
  archive: string | null,
): Promise<ChunkHit[]> {
  const hits = await search(where);
  if (archive === null || !hits.some((hit) => hit.view.path.startsWith(archive))) return hits;
  return search(withoutFolder(where, archive));
}

/**
 * Linear fusion of min-max normalised scores: 0.7 x BM25 + 0.3 x cosine, each list cut at `depth`
 * (a note missing from a list scores 0 there). Measured on LoCoMo (test/eval), recall@10 stays
 * within 0.01 for vector weights 0.1-0.5 and depths 10-50; reciprocal rank fusion with the
 * textbook k = 60 lost 0.04, because it lets the weaker vector list pull notes up by rank alone.
 * The search settings (keel.yaml `memory.search`) can move both.
 */
export const FUSION = { vectorWeight: 0.3, depth: (k: number) => Math.max(25, k) };

/** The ranking settings when keel.yaml names none (the schema's defaults). */
export const DEFAULT_TUNING: MemorySearchConfig = MemorySearchConfig.parse({});

export type SearchMode = 'hybrid' | 'vector' | 'text';

interface Scored {
  view: ChunkView;
  score: number;
}

export async function searchChunks(
  index: ChunkIndex,
  embedder: Embedder,
  options: SearchOptions,
  mode: SearchMode = 'hybrid',
): Promise<SearchResult[]> {
  const tuning = options.tuning ?? DEFAULT_TUNING;
  const clock = { now: options.now ?? new Date(`${options.today}T12:00:00`), maxAgeDays: options.maxAgeDays };
  const where = filterSql(options.filter, clock);
  const archive = archiveLeftOut(options.filter, options.archiveDir ?? 'memory/archive/');
  const depth = Math.max(tuning.depth, options.k);
  const text = fullTextQuery(options.query);
  const [vectorHits, textHits] = await Promise.all([
    mode === 'text'
      ? []
      : embedder
          .embedQuery(options.query)
          .then((v) => outsideArchive((w) => index.vectorSearch(v, depth, w), where, archive)),
    mode === 'vector' ? [] : outsideArchive((w) => index.textSearch(text, depth, w), where, archive),
  ]);
  const vectorWeight = mode === 'hybrid' ? tuning.vectorWeight : mode === 'vector' ? 1 : 0;
  const fused = fuse([textHits, 1 - vectorWeight], [vectorHits, vectorWeight]);
  // The neighbours lifted are in an anchor's folder, so never in the archive when the anchor is not.
  const lift = async (ranked: Scored[]): Promise<Scored[]> =>
    options.folderOrder && mode !== 'vector'
      ? liftNeighbours(ranked, options.folderOrder, neighbourReader(index, where, options, clock), tuning)
      : ranked;
  // Lifting first lets the priors score a lifted neighbour on its own words, as any candidate.
  const ranked = tuning.sequenceFirst
    ? rerank(options.query, await lift(fused.sort(byScore)), tuning)
    : await lift(rerank(options.query, fused, tuning));
  return ranked.slice(0, options.k).map(({ view, score }) => ({
    path: view.path,
    startLine: view.start_line,
    endLine: view.end_line,
    heading: view.heading,
    text: view.text,
    score,
    stale: isStale(view.review_by, view.date, options.today, options.maxAgeDays),
    type: view.type,
    tags: view.tags,
    date: view.date,
    reviewBy: view.review_by,
  }));
}

/** Where the lift reads notes' chunks: the notes themselves where it can, with the filter applied. */
function neighbourReader(
  index: ChunkIndex,
  where: string | null,
  options: SearchOptions,
  clock: FilterClock,
): NoteChunkReader {
  const notes = options.notes;
  if (!notes) return { fromIndex: (paths) => index.chunksAt(paths, where) };
  const passes = filterTest(options.filter, clock);
  // The lift's reads between two index queries follow one another without a pause: each folder
  // on their way is checked once. Anything may change during a query, so all are checked again.
  const folders = new Set<string>();
  return {
    fromIndex: (paths) => {
      folders.clear();
      return index.chunksAt(paths, where);
    },
    fromNote: (path) => {
      const views = notes.read(path, folders);
      // The filter reads only the note's own fields, the same in each of its chunks.
      return views && passes && views.length > 0 && !passes(views[0]!) ? [] : views;
    },
  };
}

function byScore(a: Scored, b: Scored): number {
  return b.score - a.score || a.view.id.localeCompare(b.view.id);
}

/** Weighted sum of each list's min-max normalised scores, by chunk. */
function fuse(...lists: [hits: Scored[], weight: number][]): Scored[] {
  const fused = new Map<string, Scored>();
  for (const [hits, weight] of lists) {
    if (weight === 0) continue;
    for (const [hit, normalised] of minMax(hits)) {
      const entry = fused.get(hit.view.id) ?? { view: hit.view, score: 0 };
      entry.score += weight * normalised;
      fused.set(hit.view.id, entry);
    }
  }
  return [...fused.values()];
}

function rerank(query: string, fused: Scored[], tuning: MemorySearchConfig): Scored[] {
  const candidates = fused.map(({ view, score }) => ({
    id: view.id,
    score,
    path: view.path,
    mentions: view.mentions,
    text: view.heading ? `${view.heading}\n${view.text}` : view.text,
    view,
  }));
  return structureRerank(query, candidates, tuning);
}

/** Scores scaled to 0..1 within one list (all equal scores count as 1). */
function minMax(hits: Scored[]): [Scored, number][] {
  if (hits.length === 0) return [];
  const scores = hits.map((h) => h.score);
  const max = Math.max(...scores);
  const min = Math.min(...scores);
  return hits.map((hit) => [hit, max > min ? (hit.score - min) / (max - min) : 1]);
}

/** Past its review-by date; or, without one in the future, dated more than maxAgeDays ago. */
export function isStale(
  reviewBy: string | null,
  date: string | null,
  today: string,
  maxAgeDays: number,
): boolean {
  if (reviewBy) return reviewBy < today;
  if (!date) return false;
  return date < addDays(today, -maxAgeDays);
}

export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
