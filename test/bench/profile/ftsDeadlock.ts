/**
 * A minimal check for LanceDB's full-text index build deadlock on small machines: rows of the
 * benchmark's notes in a fresh table, then the daemon's FTS index options, with a deadline. On a
 * host with 3 CPUs or fewer LanceDB sizes its CPU pool at one thread, and from some data size on
 * the FTS build parks that thread forever (lancedb issue 3568, fixed in lance by PR 7423). Use it
 * to check a LanceDB upgrade, or LANCE_CPU_THREADS:
 *
 *   npx tsx test/bench/profile/ftsDeadlock.ts [--rows 100000] [--deadline-s 120]
 *   LANCE_CPU_THREADS=2 npx tsx test/bench/profile/ftsDeadlock.ts
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { parseFile } from '../../../daemon/src/memory/parse/index';
import { searchTextOf } from '../../../daemon/src/memory/searchText';
import { loadOrGenerate } from '../workload/generate';
import { withDeadline } from './timing';

/** About what one writer batch (512 notes) holds. */
const BATCH_ROWS = 2_800;

/** The daemon's FTS settings (FTS_OPTIONS in chunkIndex.ts). */
const FTS_OPTIONS = {
  withPosition: false,
  stem: true,
  removeStopWords: true,
  language: 'English',
  asciiFolding: true,
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '100000' },
      'deadline-s': { type: 'string', default: '120' },
    },
  });
  const rows = await textRows(Number(values.rows));
  const dir = await mkdtemp(join(tmpdir(), 'keel-fts-'));
  try {
    const db = await lancedb.connect(dir);
    // Added in batches, as the daemon's writer does: one fragment per batch of 512 notes.
    const table = await db.createTable('chunks', rows.slice(0, BATCH_ROWS));
    for (let i = BATCH_ROWS; i < rows.length; i += BATCH_ROWS) await table.add(rows.slice(i, i + BATCH_ROWS));
    const threads = process.env.LANCE_CPU_THREADS ?? 'unset';
    process.stdout.write(
      `${rows.length} rows, ${cpus().length} CPUs, LANCE_CPU_THREADS=${threads}: building FTS... `,
    );
    const started = performance.now();
    const build = table.createIndex('search_text', { config: lancedb.Index.fts(FTS_OPTIONS) });
    const outcome = await withDeadline(build, Number(values['deadline-s']) * 1000);
    if (outcome === 'timeout') {
      process.stdout.write(`no result after ${values['deadline-s']} s: deadlocked\n`);
      return 1;
    }
    process.stdout.write(`built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The benchmark's chunks as the daemon indexes them: `search_text` from its own parser. */
async function textRows(count: number): Promise<{ id: number; search_text: string }[]> {
  const workload = await loadOrGenerate({ seed: 42, chunks: Math.max(count, 1_000) });
  const rows: { id: number; search_text: string }[] = [];
  for (const entry of workload.manifest.entries) {
    const parsed = parseFile(entry.path, readFileSync(join(workload.workspace, entry.path), 'utf8'));
    if (!parsed.ok) continue;
    for (const chunk of parsed.file.chunks) {
      if (rows.length >= count) return rows;
      rows.push({ id: rows.length, search_text: searchTextOf(parsed.file.frontmatter, chunk) });
    }
  }
  return rows;
}

// A deadlocked native build keeps the process alive: exit explicitly.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
