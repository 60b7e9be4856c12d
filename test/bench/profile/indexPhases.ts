/**
 * Where the daemon's indexing and search time goes, measured in one process with the daemon's own
 * code: the real IndexWriter over the real stores, whose LanceDB, DuckDB and embedder calls are
 * wrapped with timers; a CPU-only pass per stage (read, hash, parse, search text, embed); the index
 * builds; and search split into its vector and full-text halves. Measurement only: nothing under
 * daemon/ is changed.
 *
 *   npx tsx test/bench/profile/indexPhases.ts [--chunks 100000] [--seed 42] [--lance-cpu-threads 2]
 *
 * LanceDB sizes its CPU pool from the core count minus two (at least one thread), and its FTS build
 * deadlocks on a one-thread pool, so this sets LANCE_CPU_THREADS (default 2; 0 leaves it unset and
 * the builds are then given a deadline).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as lancedb from '@lancedb/lancedb';
import { createLogger } from '../../../daemon/src/log';
import { createLocalEmbedder } from '../../../daemon/src/memory/embed/local';
import { gitBlobId, walkWorkspace } from '../../../daemon/src/memory/files';
import { IndexWriter } from '../../../daemon/src/memory/indexer';
import { parseFile } from '../../../daemon/src/memory/parse/index';
import { filterSql, searchChunks } from '../../../daemon/src/memory/search';
import { searchTextOf } from '../../../daemon/src/memory/searchText';
import { openStores, type Stores } from '../../../daemon/src/memory/store/stores';
import type { Embedder } from '../../../daemon/src/memory/embed/embedder';
import { readMemory } from '../procStats';
import { round, type Summary } from '../stats';
import { loadOrGenerate, type Workload } from '../workload/generate';
import { buildQueries, type BenchQuery } from '../workload/queries';
import { searchVariants } from './searchVariants';
import { Timer, timeMethod, withDeadline } from './timing';

const INDEX_BUILD_DEADLINE_MS = 180_000;
/** This machine is shared: a profile that runs away with memory stops itself rather than swap it. */
const MEMORY_GUARD_MB = 4_096;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chunks: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '42' },
      'lance-cpu-threads': { type: 'string', default: '2' },
    },
  });
  guardMemory();
  const threads = Number(values['lance-cpu-threads']);
  // Read by LanceDB when its CPU pool is first used, which is after this line.
  if (threads > 0) process.env.LANCE_CPU_THREADS = String(threads);
  const workload = await loadOrGenerate({ seed: Number(values.seed), chunks: Number(values.chunks) });
  const chunks = workload.manifest.chunks;
  print(
    `Workload: ${workload.manifest.notes} notes, ${chunks} chunks; LANCE_CPU_THREADS=${process.env.LANCE_CPU_THREADS ?? 'unset'}`,
  );
  await cpuPass(workload);
  const stateDir = await mkdtemp(join(tmpdir(), 'keel-profile-'));
  try {
    const embedder = await createLocalEmbedder();
    const stores = await openStores(stateDir, embedder.dimensions, createLogger({ level: 'warn' }));
    const table = (stores.chunkIndex as unknown as { table: lancedb.Table }).table;
    await writerPass(workload, stores, embedder, table);
    printMemory('after writing every row');
    const queries = await buildQueries(workload.workspace, workload.manifest, 300);
    if (await buildIndexes(stores, table, { optimize: false })) {
      printMemory('after the index builds');
      await searchPass('search, as left by the cold index', stores, embedder, queries);
      printMemory('after searching');
      await searchVariants(table, embedder, queries, print);
      await buildIndexes(stores, table, { optimize: true });
      printMemory('after optimize');
      await searchPass('search, after optimize (compacted)', stores, embedder, queries);
      await searchVariants(table, embedder, queries, print);
    }
    stores.chunkIndex.close();
    await stores.catalog.close();
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Each stage alone over every file, CPU only: what parsing and embedding cost per chunk. */
async function cpuPass(workload: Workload): Promise<void> {
  const stages = { read: 0, hash: 0, parse: 0, searchText: 0, embed: 0 };
  let chunks = 0;
  const embedder = await createLocalEmbedder();
  for (const entry of workload.manifest.entries) {
    let t = performance.now();
    const content = readFileSync(join(workload.workspace, entry.path));
    stages.read += -t + (t = performance.now());
    gitBlobId(content);
    stages.hash += -t + (t = performance.now());
    const parsed = parseFile(entry.path, content.toString('utf8'));
    stages.parse += -t + (t = performance.now());
    if (!parsed.ok) continue;
    const texts = parsed.file.chunks.map((c) => searchTextOf(parsed.file.frontmatter, c));
    stages.searchText += -t + (t = performance.now());
    // The local embedder computes synchronously inside the call; the Promise only wraps the result.
    for (const text of texts) void embedder.embedQuery(text);
    stages.embed += -t + (t = performance.now());
    chunks += texts.length;
  }
  print(`\nCPU per stage, one pass over ${chunks} chunks (µs per chunk; total s)`);
  for (const [stage, ms] of Object.entries(stages)) {
    print(
      `  ${stage.padEnd(28)} ${((ms * 1000) / chunks).toFixed(1).padStart(8)} µs ${(ms / 1000).toFixed(2).padStart(8)} s`,
    );
  }
}

/** The daemon's IndexWriter over every file, with each store call timed. */
async function writerPass(
  workload: Workload,
  stores: Stores,
  embedder: Embedder,
  table: lancedb.Table,
): Promise<void> {
  const timers = {
    embed: new Timer(),
    'LanceDB replace': new Timer(),
    '  of which delete': new Timer(),
    '  of which add': new Timer(),
    'DuckDB apply': new Timer(),
  };
  timeMethod(embedder, 'embedDocuments', timers.embed);
  timeMethod(stores.chunkIndex, 'replace', timers['LanceDB replace']);
  timeMethod(table, 'delete', timers['  of which delete']);
  timeMethod(table, 'add', timers['  of which add']);
  timeMethod(stores.catalog, 'apply', timers['DuckDB apply']);
  const log = createLogger({ level: 'warn' });
  const root = workload.workspace;
  const deps = { root, ...stores, embedder, log, onProgress: () => undefined };
  const writer = new IndexWriter(deps, new Map());
  const started = performance.now();
  writer.enqueue((await walkWorkspace(root)).keys());
  await writer.whenIdle();
  const totalMs = performance.now() - started;
  const timed = timers.embed.totalMs + timers['LanceDB replace'].totalMs + timers['DuckDB apply'].totalMs;
  const chunks = workload.manifest.chunks;
  print(
    `\nIndexWriter, in-process: ${(totalMs / 1000).toFixed(1)} s, ${Math.round(chunks / (totalMs / 1000))} chunks/s, ${timers['DuckDB apply'].samples.length} batches`,
  );
  for (const [name, timer] of Object.entries(timers)) printTotal(name, timer.totalMs, totalMs);
  printTotal('read, hash, parse (the rest)', totalMs - timed, totalMs);
}

/** LanceDB's index builds (FTS, path btree, vector) or an optimize, each call timed. */
async function buildIndexes(
  stores: Stores,
  table: lancedb.Table,
  options: { optimize: boolean },
): Promise<boolean> {
  const createIndex = new Timer();
  const optimize = new Timer();
  timeMethod(table, 'createIndex', createIndex);
  timeMethod(table, 'optimize', optimize);
  const started = performance.now();
  const outcome = await withDeadline(stores.chunkIndex.maintain(options), INDEX_BUILD_DEADLINE_MS);
  const ms = performance.now() - started;
  if (outcome === 'timeout') {
    print(`\nIndex build: no progress after ${INDEX_BUILD_DEADLINE_MS / 1000} s (deadlocked?); stopping.`);
    return false;
  }
  print(`\n${options.optimize ? 'optimize()' : 'Index builds'}: ${(ms / 1000).toFixed(1)} s`);
  const names = ['FTS (search_text)', 'btree (path)', 'IVF (vector)'];
  createIndex.samples.forEach((sample, i) =>
    print(`  ${(names[i] ?? 'index').padEnd(28)} ${(sample / 1000).toFixed(2).padStart(8)} s`),
  );
  optimize.samples.forEach((sample) =>
    print(`  ${'optimize'.padEnd(28)} ${(sample / 1000).toFixed(2).padStart(8)} s`),
  );
  return true;
}

/** The same queries through the vector half, the full-text half and the whole hybrid search. */
async function searchPass(
  title: string,
  stores: Stores,
  embedder: Embedder,
  queries: BenchQuery[],
): Promise<void> {
  const index = stores.chunkIndex;
  const timers = {
    'vector (embed + ANN)': new Timer(),
    'full text (BM25)': new Timer(),
    'hybrid (both + fusion)': new Timer(),
  };
  for (const [i, q] of [...queries.slice(0, 20), ...queries].entries()) {
    const warm = i < 20;
    const where = filterSql(q.filter);
    const depth = Math.max(50, q.k * 4);
    const run = async (timer: Timer, work: () => Promise<unknown>): Promise<void> => {
      if (warm) await work();
      else await timer.time(work);
    };
    await run(timers['vector (embed + ANN)'], async () =>
      index.vectorSearch(await embedder.embedQuery(q.query), depth, where),
    );
    await run(timers['full text (BM25)'], () => index.textSearch(q.query, depth, where));
    const options = { query: q.query, k: q.k, filter: q.filter, maxAgeDays: 365, today: '2026-11-25' };
    await run(timers['hybrid (both + fusion)'], () => searchChunks(index, embedder, options));
  }
  print(`\n${title} (${queries.length} queries, k=10; ms)`);
  print(`  ${''.padEnd(28)} ${['p50', 'p95', 'p99', 'max'].map((h) => h.padStart(8)).join('')}`);
  for (const [name, timer] of Object.entries(timers)) printSummary(name, timer.summary());
}

function printTotal(name: string, ms: number, of: number): void {
  print(
    `  ${name.padEnd(28)} ${(ms / 1000).toFixed(2).padStart(8)} s ${((ms / of) * 100).toFixed(0).padStart(4)} %`,
  );
}

function printSummary(name: string, s: Summary): void {
  print(
    `  ${name.padEnd(28)} ${[s.p50Ms, s.p95Ms, s.p99Ms, s.maxMs].map((v) => round(v, 1).toFixed(1).padStart(8)).join('')}`,
  );
}

function guardMemory(): void {
  const timer = setInterval(() => {
    const rss = readMemory(process.pid)?.rssMb ?? 0;
    if (rss < MEMORY_GUARD_MB) return;
    process.stderr.write(`profile: RSS ${Math.round(rss)} MB is past ${MEMORY_GUARD_MB} MB; stopping.\n`);
    process.exit(3);
  }, 200);
  timer.unref();
}

/** This process's memory: V8's heap, Node's external buffers, and what /proc says in all. */
function printMemory(label: string): void {
  const mb = (bytes: number): string => `${Math.round(bytes / 1024 ** 2)} MB`;
  const usage = process.memoryUsage();
  const proc = readMemory(process.pid);
  print(
    `\nMemory ${label}: RSS ${mb(usage.rss)} (anon ${Math.round(proc?.anonMb ?? 0)} MB, file ${Math.round(proc?.fileMb ?? 0)} MB), ` +
      `V8 heap used ${mb(usage.heapUsed)} of ${mb(usage.heapTotal)}, external ${mb(usage.external)}, peak ${Math.round(proc?.peakRssMb ?? 0)} MB`,
  );
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
