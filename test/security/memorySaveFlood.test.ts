/**
 * A flood of saves cannot grow what every search pays for. Saves leave the main table's old rows
 * in place and hide them from searches until the next fold (chunkIndex.ts); a workspace writer
 * (a sync client, a runaway script, a crafted mail attachment saved as notes) creating note after
 * note must not make that hidden set, or the small table searched in memory, grow without bound,
 * and paths carrying SQL quotes must be hidden and deleted as themselves, nothing else.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { ChunkIndex, type ChunkRow } from '../../daemon/src/memory/store/chunkIndex';
import { RECENT_TABLE } from '../../daemon/src/memory/store/recentChunks';

const DIMENSIONS = 8;
const SAVES = 600;
let dir: string;
let index: ChunkIndex | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-flood-'));
});
afterEach(async () => {
  await index?.quiet();
  index?.close();
  index = null;
  await rm(dir, { recursive: true, force: true });
});

function row(path: string, text: string, seed: number): ChunkRow {
  const vector = new Float32Array(DIMENSIONS);
  vector[seed % DIMENSIONS] = 1;
  return {
    id: `${path}#0`,
    path,
    chunk: 0,
    start_line: 1,
    end_line: 2,
    heading: '',
    text,
    search_text: text,
    type: 'note',
    tags: [],
    date: null,
    review_by: null,
    mentions: [],
    vector,
  };
}

async function rowsOf(table: string): Promise<number> {
  const db = await lancedb.connect(dir);
  const opened = await db.openTable(table);
  try {
    return await opened.countRows();
  } finally {
    opened.close();
    db.close();
  }
}

it('folds a flood of saves of quote-named notes into the main table, and hides and deletes only those paths', async () => {
  index = await ChunkIndex.open(dir, DIMENSIONS, createLogger({ level: 'error' }));
  // The main table, indexed, holds a note whose name a quote-injecting path would hit.
  await index.replace(['keep.md'], [row('keep.md', 'keepword original', 0)]);
  await index.maintain({ optimize: false });
  for (let i = 0; i < SAVES; i++) {
    const path = `it's ${i}' OR path = 'keep.md.md`;
    await index.replace([path], [row(path, `floodword${i}`, i)]);
  }
  // Folded on the way (at most a few hundred paths are ever hidden): the main table took them.
  expect(await rowsOf('chunks')).toBeGreaterThan(SAVES / 2);
  expect(await rowsOf(RECENT_TABLE)).toBeLessThan(SAVES / 2);
  const hits = await index.textSearch('keepword', 10, null);
  expect(hits.map((h) => h.view.path)).toEqual(['keep.md']);
  const last = await index.textSearch(`floodword${SAVES - 1}`, 10, null);
  expect(last.map((h) => h.view.path)).toEqual([`it's ${SAVES - 1}' OR path = 'keep.md.md`]);
  expect(await index.countRows()).toBe(SAVES + 1);
  // Deleting a quote-named note removes it alone, across the fold.
  await index.replace([`it's 3' OR path = 'keep.md.md`], []);
  expect(await index.optimize({ full: true })).toBe('compacted');
  expect(await index.countRows()).toBe(SAVES);
  expect((await index.textSearch('keepword', 10, null)).map((h) => h.view.path)).toEqual(['keep.md']);
  expect(await index.textSearch('floodword3', 10, null)).toEqual([]);
});
