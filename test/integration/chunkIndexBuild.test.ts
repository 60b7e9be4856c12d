/**
 * A large first write (a cold index) leaves the main table without indexes; they are built after
 * it, the full-text one (and the filters' after it) beside the vector one. Both builds commit a
 * version of the same table: every index must be there afterwards, and a reopened index must find
 * a note by its words and by its vector through them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { ChunkIndex, type ChunkRow } from '../../daemon/src/memory/store/chunkIndex';

const DIMENSIONS = 32;
/** Past the vector index's threshold (VECTOR_INDEX_MIN_ROWS, 20,000). */
const ROWS = 21_000;
let dir: string;
let index: ChunkIndex | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-build-'));
});
afterEach(async () => {
  await index?.whenOptimized();
  index?.close();
  index = null;
  await rm(dir, { recursive: true, force: true });
});

function rows(): ChunkRow[] {
  let seed = 7;
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Array.from({ length: ROWS }, (_, i) => {
    // Spread over the space, so that every partition of the vector index gets rows.
    const vector = Float32Array.from({ length: DIMENSIONS }, random);
    const path = `memory/notes/n${Math.floor(i / 5)}.md`;
    const text =
      i === 12_345 ? 'The renewal with Quillfeather Ltd closes in May.' : `Routine note ${i % 50}.`;
    return {
      id: `${path}#${i % 5}`,
      path,
      chunk: i % 5,
      start_line: (i % 5) * 10 + 1,
      end_line: (i % 5) * 10 + 9,
      heading: '',
      text,
      search_text: text,
      type: i % 2 === 0 ? 'meeting' : 'note',
      tags: [`t${i % 3}`],
      date: '2026-03-01',
      review_by: null,
      mentions: [],
      vector,
    };
  });
}

it('builds every index after a large first write, and searches use them after a reopen', async () => {
  const log = createLogger({ level: 'error' });
  index = await ChunkIndex.open(dir, DIMENSIONS, log);
  const written = rows();
  await index.replace([...new Set(written.map((r) => r.path))], written);
  await index.ensureIndexed();
  index.close();
  index = null;

  const db = await lancedb.connect(dir);
  const table = await db.openTable('chunks');
  try {
    const columns = (await table.listIndices()).flatMap((i) => i.columns).sort();
    expect(columns).toEqual(['date', 'path', 'search_text', 'tags', 'type', 'vector']);
    expect(await table.countRows()).toBe(ROWS);
  } finally {
    table.close();
    db.close();
  }

  index = await ChunkIndex.open(dir, DIMENSIONS, log);
  const byWords = await index.textSearch('Quillfeather renewal', 3, null);
  expect(byWords[0]?.view.text).toBe('The renewal with Quillfeather Ltd closes in May.');
  const byVector = await index.vectorSearch(written[12_345]!.vector, 5, "type = 'note'");
  expect(byVector.length).toBe(5);
  expect(byVector.every((hit) => hit.view.type === 'note')).toBe(true);
}, 120_000);
