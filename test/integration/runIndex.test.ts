/**
 * The run index over many runs, with real LanceDB and the local embedder: runs that end one at a
 * time, as they do all day, leave a table that stays compact (LanceDB adds a fragment per write),
 * every run stays findable, and a run indexed again replaces its row.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import * as lancedb from '@lancedb/lancedb';
import { createLogger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import type { RunDocument } from '../../daemon/src/memory/runs/runDocument';
import { RunIndex } from '../../daemon/src/memory/runs/runIndex';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await dirs.cleanup();
});

function run(n: number, status = 'succeeded'): RunDocument {
  return {
    runId: `r-${n}`,
    runbook: 'renewals',
    status,
    endedAt: '2026-12-04T10:00:00.000Z',
    date: '2026-12-04',
    text: `Renewal letter number ${n} for customer${n}.`,
  };
}

it('stays a few fragments after 100 runs indexed one by one, each findable, a re-indexed run once', async () => {
  const embedder = await createLocalEmbedder();
  const index = await RunIndex.open(dirs.workspace, embedder.dimensions, createLogger({ level: 'error' }));
  try {
    for (let n = 0; n < 100; n++) {
      const [vector] = await embedder.embedDocuments([run(n).text]);
      await index.upsert([{ document: run(n), vector: vector! }]);
    }
    const [vector] = await embedder.embedDocuments([run(7, 'failed').text]);
    await index.upsert([{ document: run(7, 'failed'), vector: vector! }]);

    const hits = await index.textSearch('customer42', 5, null);
    expect(hits[0]?.row.runId).toBe('r-42');
    const seven = await index.textSearch('customer7', 5, null);
    expect(seven.filter((hit) => hit.row.runId === 'r-7').map((hit) => hit.row.status)).toEqual(['failed']);
    expect((await index.runIds()).size).toBe(100);
  } finally {
    index.close();
  }
  const table = await (await lancedb.connect(dirs.workspace)).openTable('runs');
  expect(await table.countRows()).toBe(100);
  // One fragment per write without compaction: 101 here.
  expect((await table.stats()).fragmentStats.numFragments).toBeLessThan(40);
  table.close();
});
