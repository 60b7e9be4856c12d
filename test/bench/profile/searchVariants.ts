/**
 * What the two halves of a search cost under other settings than the daemon's, on the same table
 * and queries: fewer IVF probes, no refine step (which re-reads full vectors although IVF_FLAT
 * already ranks with them), and fetching only ids and scores (the text of 50 candidates per list
 * is read, then all but k are thrown away by the fusion). Measurement only, to size a fix.
 */
import * as lancedb from '@lancedb/lancedb';
import type { Embedder } from '../../../daemon/src/memory/embed/embedder';
import { filterSql } from '../../../daemon/src/memory/search';
import type { BenchQuery } from '../workload/queries';
import { Timer } from './timing';

/** The daemon's displayed columns (DISPLAY_COLUMNS in chunkIndex.ts). */
const DISPLAY = [
  'id',
  'path',
  'chunk',
  'start_line',
  'end_line',
  'heading',
  'text',
  'type',
  'tags',
  'date',
  'review_by',
];

interface VectorVariant {
  name: string;
  nprobes: number;
  refine: number | null;
  columns: string[];
}

const VECTOR_VARIANTS: VectorVariant[] = [
  { name: 'daemon: nprobes 24, refine 4, display', nprobes: 24, refine: 4, columns: DISPLAY },
  { name: 'nprobes 24, no refine, display', nprobes: 24, refine: null, columns: DISPLAY },
  { name: 'nprobes 24, no refine, id only', nprobes: 24, refine: null, columns: ['id'] },
  { name: 'nprobes 12, no refine, id only', nprobes: 12, refine: null, columns: ['id'] },
  { name: 'nprobes 24, refine 4, id only', nprobes: 24, refine: 4, columns: ['id'] },
];

export async function searchVariants(
  table: lancedb.Table,
  embedder: Embedder,
  queries: BenchQuery[],
  print: (line: string) => void,
): Promise<void> {
  const vectors = await Promise.all(queries.map((q) => embedder.embedQuery(q.query)));
  print(`  ${'variant'.padEnd(40)} ${['p50', 'p95', 'p99'].map((h) => h.padStart(8)).join('')}  ms`);
  for (const variant of VECTOR_VARIANTS) {
    const timer = await timeAll(queries, (q, i) => {
      let query = table.vectorSearch(vectors[i]!).distanceType('cosine').limit(50).nprobes(variant.nprobes);
      if (variant.refine) query = query.refineFactor(variant.refine);
      const where = filterSql(q.filter);
      if (where) query = query.where(where);
      return query.select([...variant.columns, '_distance']).toArray();
    });
    printRow(print, `vector ${variant.name}`, timer);
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

function printRow(print: (line: string) => void, name: string, timer: Timer): void {
  const s = timer.summary();
  print(`  ${name.padEnd(40)} ${[s.p50Ms, s.p95Ms, s.p99Ms].map((v) => v.toFixed(1).padStart(8)).join('')}`);
}

/**
 * How much of the daemon's LanceDB cache (256 MB of index cache, 64 MB of metadata, its settings)
 * a search workload fills: a second connection with its own session runs the queries, then says.
 */
export async function cacheFootprint(
  lanceDir: string,
  embedder: Embedder,
  queries: BenchQuery[],
  print: (line: string) => void,
): Promise<void> {
  const session = new lancedb.Session(BigInt(256 * 1024 * 1024), BigInt(64 * 1024 * 1024));
  const db = await lancedb.connect(lanceDir, {}, session);
  const table = await db.openTable('chunks');
  for (const q of queries) {
    const where = filterSql(q.filter);
    let vector = table
      .vectorSearch(await embedder.embedQuery(q.query))
      .distanceType('cosine')
      .limit(50);
    let text = table.query().fullTextSearch(new lancedb.MatchQuery(q.query, 'search_text')).limit(50);
    if (where) [vector, text] = [vector.where(where), text.where(where)];
    await Promise.all([vector.nprobes(24).select(['id']).toArray(), text.select(['id']).toArray()]);
  }
  const mb = Number(session.sizeBytes()) / 1024 ** 2;
  print(
    `  LanceDB session cache after ${queries.length} searches: ${mb.toFixed(0)} MB in ${session.approxNumItems()} items`,
  );
  table.close();
  db.close();
}
