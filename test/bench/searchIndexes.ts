/**
 * Whether the daemon's search indexes exist yet, read from outside: a read-only LanceDB handle on
 * `.keel/lance` lists the table's indexes. The daemon reports `ready` once the rows are written,
 * before its full-text (and, from 20,000 rows, vector) index is built; until then a hybrid search is
 * vector-only. A build that stops using CPU without finishing is reported as stalled, not waited
 * for forever (LanceDB's FTS build can deadlock when its CPU pool has one thread).
 */
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { sleep, type DaemonProcess } from './daemonProcess';
import { readCpuSeconds } from './procStats';

/** LanceDB's vector index is built at this many rows (VECTOR_INDEX_MIN_ROWS in chunkIndex.ts). */
export const VECTOR_INDEX_MIN_ROWS = 20_000;

export interface IndexWait {
  outcome: 'built' | 'stalled' | 'timeout';
  /** From the daemon's spawn until both indexes were listed, or null if they never were. */
  atMs: number | null;
  /** The indexes listed when the wait ended: `search_text`, `vector`, `path`. */
  columns: string[];
}

export async function waitForSearchIndexes(
  daemon: DaemonProcess,
  workspace: string,
  rows: number,
  options: { timeoutMs: number; stallMs: number; pollMs?: number },
): Promise<IndexWait> {
  const db = await lancedb.connect(join(workspace, '.keel', 'lance'), { readConsistencyInterval: 0 });
  try {
    const table = await db.openTable('chunks');
    const wanted = rows >= VECTOR_INDEX_MIN_ROWS ? ['search_text', 'vector'] : ['search_text'];
    const started = performance.now();
    let lastCpu = readCpuSeconds(daemon.pid) ?? 0;
    let lastProgressAt = started;
    for (;;) {
      const columns = (await table.listIndices()).flatMap((index) => index.columns);
      if (wanted.every((column) => columns.includes(column))) {
        return { outcome: 'built', atMs: performance.now() - daemon.spawnedAt, columns };
      }
      const now = performance.now();
      const cpu = readCpuSeconds(daemon.pid) ?? lastCpu;
      // A build uses CPU; a daemon idle for stallMs with the indexes missing is stuck.
      if (cpu - lastCpu > 0.05) [lastCpu, lastProgressAt] = [cpu, now];
      if (now - lastProgressAt > options.stallMs) return { outcome: 'stalled', atMs: null, columns };
      if (now - started > options.timeoutMs) return { outcome: 'timeout', atMs: null, columns };
      await sleep(options.pollMs ?? 100);
    }
  } finally {
    db.close();
  }
}
