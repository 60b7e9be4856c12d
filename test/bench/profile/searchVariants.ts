/**
 * What the two halves of a search cost under other settings than the daemon's, on the same table
 * and queries: fewer IVF probes, no refine step (which re-reads full vectors although IVF_FLAT
 * already ranks with them), and fetching only ids and scores (the text of 50 candidates per list
 * is read, then all but k are thrown away by the fusion); with each variant's recall@10 against an
 * exact flat scan. Measurement only, to size a fix.
 */
import * as lancedb from '@lancedb/lancedb';
import type { Embedder } from '../../../daemon/src/memory/embed/embedder';
import { filterSql } from '../../../daemon/src/memory/search';
import { DISPLAY_COLUMNS } from '../../../daemon/src/memory/store/chunkIndex';
import type { BenchQuery } from '../workload/queries';
import { Timer } from './timing';

/** The daemon's displayed columns. */
const DISPLAY = DISPLAY_COLUMNS;

interface VectorVariant {
  name: string;
  /** Null: no index at all, an exact flat scan of every vector. */
  nprobes: number | null;
  refine: number | null;
  columns: string[];
}

const VECTOR_VARIANTS: VectorVariant[] = [
  { name: 'daemon: nprobes 24, refine 4, display', nprobes: 24, refine: 4, columns: DISPLAY },
  { name: 'nprobes 24, no refine, display', nprobes: 24, refine: null, columns: DISPLAY },
  { name: 'nprobes 24, no refine, id only', nprobes: 24, refine: null, columns: ['id'] },
  { name: 'nprobes 12, no refine, id only', nprobes: 12, refine: null, columns: ['id'] },
  { name: 'nprobes 24, refine 4, id only', nprobes: 24, refine: 4, columns: ['id'] },
  { name: 'nprobes 64, no refine, id only', nprobes: 64, refine: null, columns: ['id'] },
  { name: 'exact flat scan, id only', nprobes: null, refine: null, columns: ['id'] },
];

export async function searchVariants(
  table: lancedb.Table,
  embedder: Embedder,
  queries: BenchQuery[],
  print: (line: string) => void,
): Promise<void> {
  const vectors = await Promise.all(queries.map((q) => embedder.embedQuery(q.query)));
  const exact = await exactTop10(table, queries, vectors);
  print(
    `  ${'variant'.padEnd(40)} ${['p50', 'p95', 'p99'].map((h) => h.padStart(8)).join('')}  ms  recall@10`,
  );
  for (const variant of VECTOR_VARIANTS) {
    const found: string[][] = [];
    const timer = await timeAll(queries, async (q, i) => {
      let query = table.vectorSearch(vectors[i]!).distanceType('cosine').limit(50);
      query = variant.nprobes === null ? query.bypassVectorIndex() : query.nprobes(variant.nprobes);
      if (variant.refine) query = query.refineFactor(variant.refine);
      const where = filterSql(q.filter);
      if (where) query = query.where(where);
      const rows = await query.select([...variant.columns, '_distance']).toArray();
      found[i] = rows.slice(0, 10).map((row: { id: string }) => row.id);
    });
    printRow(print, `vector ${variant.name}`, timer, recall(exact, found));
  }
  for (const [name, columns] of [
    ['display', DISPLAY],
    ['id only', ['id']],
  ] as const) {
    const timer = await timeAll(queries, (q) => {
      let query = table.query().fullTextSearch(new lancedb.MatchQuery(q.query, 'search_text')).limit(50);
      const where = filterSql(q.filter);
      if (where) query = query.where(where);
      return query.select([...columns, '_score']).toArray();
    });
    printRow(print, `text ${name}`, timer);
  }
}

/** Each query once as warm-up (the first 20), then all of them timed. */
async function timeAll(
  queries: BenchQuery[],
  run: (q: BenchQuery, i: number) => Promise<unknown>,
): Promise<Timer> {
  const timer = new Timer();
  for (let i = 0; i < Math.min(20, queries.length); i++) await run(queries[i]!, i);
  for (let i = 0; i < queries.length; i++) await timer.time(() => run(queries[i]!, i));
  return timer;
}

function printRow(print: (line: string) => void, name: string, timer: Timer, recallAt10?: number): void {
  const s = timer.summary();
  const cells = [s.p50Ms, s.p95Ms, s.p99Ms].map((v) => v.toFixed(1).padStart(8)).join('');
  print(
    `  ${name.padEnd(40)} ${cells}${recallAt10 === undefined ? '' : `  ${recallAt10.toFixed(3).padStart(9)}`}`,
  );
}

/**
 * The exact 10 nearest chunks of each query (a flat scan, no index), to measure recall against.
 * One query at a time: each scan reads every vector, and running them all at once holds them all.
 */
async function exactTop10(
  table: lancedb.Table,
  queries: BenchQuery[],
  vectors: Float32Array[],
): Promise<string[][]> {
  const out: string[][] = [];
  for (const [i, q] of queries.entries()) {
    let query = table.vectorSearch(vectors[i]!).distanceType('cosine').limit(10).bypassVectorIndex();
    const where = filterSql(q.filter);
    if (where) query = query.where(where);
    const rows = await query.select(['id', '_distance']).toArray();
    out.push(rows.map((row: { id: string }) => row.id));
  }
  return out;
}

/** Mean share of the exact top 10 that a variant's top 10 found. */
function recall(exact: string[][], found: string[][]): number {
  let sum = 0;
  exact.forEach((ids, i) => {
    const got = new Set(found[i] ?? []);
    sum += ids.length === 0 ? 1 : ids.filter((id) => got.has(id)).length / ids.length;
  });
  return sum / Math.max(1, exact.length);
}
