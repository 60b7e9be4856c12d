/**
 * Searches read their chunks from LanceDB's Arrow answers straight from the columns' buffers
 * (chunkViews.ts): what they show must be what was written, nulls, empty lists and any script
 * included, and the same as Arrow's own reading of the answer, for slices of it too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import {
  ChunkIndex,
  DISPLAY_COLUMNS,
  type ChunkRow,
  type ChunkView,
} from '../../daemon/src/memory/store/chunkIndex';
import { chunkViews } from '../../daemon/src/memory/store/chunkViews';

const DIMENSIONS = 8;
let dir: string;
let index: ChunkIndex | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-views-'));
});
afterEach(async () => {
  await index?.whenOptimized();
  index?.close();
  index = null;
  await rm(dir, { recursive: true, force: true });
});

/** Rows unlike each other: nulls and values, empty and long lists, several scripts, long text. */
function rows(): ChunkRow[] {
  const texts = [
    'Renewal terms for Acme: 12% discount until March.',
    'Café crème — naïve façade; 日本語のメモ; emoji 🚀 and a tab\there.',
    '',
    'x'.repeat(5_000),
  ];
  return Array.from({ length: 40 }, (_, i) => {
    const vector = new Float32Array(DIMENSIONS);
    vector[i % DIMENSIONS] = 1;
    const path = `memory/notes/n${i % 7}.md`;
    const text = `${texts[i % texts.length]} (${i})`;
    return {
      id: `${path}#${i}`,
      path,
      chunk: i,
      start_line: i * 10 + 1,
      end_line: i * 10 + 9,
      heading: i % 3 === 0 ? '' : `Heading ${i} — Überblick`,
      text,
      search_text: text,
      type: i % 4 === 0 ? null : 'meeting',
      tags: i % 5 === 0 ? [] : Array.from({ length: (i % 4) + 1 }, (_, t) => `tag-${t}-ü`),
      date: i % 2 === 0 ? null : '2026-03-01',
      review_by: i % 6 === 0 ? '2026-12-31' : null,
      mentions: i % 3 === 0 ? ['acme corp', 'jane doe'] : [],
      vector,
    };
  });
}

function viewOf(row: ChunkRow): ChunkView {
  const { vector: _vector, search_text: _searchText, ...view } = row;
  return view;
}

const byId = (a: ChunkView, b: ChunkView): number => a.id.localeCompare(b.id);

it('a search shows each chunk as it was written', async () => {
  index = await ChunkIndex.open(dir, DIMENSIONS, createLogger({ level: 'error' }));
  const written = rows();
  await index.replace([...new Set(written.map((r) => r.path))], written);
  const paths = [...new Set(written.map((r) => r.path))];
  const shown = await index.chunksAt(paths, null);
  expect(shown.sort(byId)).toEqual(written.map(viewOf).sort(byId));
});

it("reads an answer, and slices of it, as Arrow's own rows do", async () => {
  index = await ChunkIndex.open(dir, DIMENSIONS, createLogger({ level: 'error' }));
  const written = rows();
  await index.replace([...new Set(written.map((r) => r.path))], written);
  const db = await lancedb.connect(dir);
  const table = await db.openTable('chunks');
  try {
    const answer = await table.query().select(DISPLAY_COLUMNS).toArrow();
    const arrowRows = (part: typeof answer): ChunkView[] =>
      part.toArray().map((row: Record<string, unknown>) => ({
        id: row.id as string,
        path: row.path as string,
        chunk: row.chunk as number,
        start_line: row.start_line as number,
        end_line: row.end_line as number,
        heading: row.heading as string,
        text: row.text as string,
        type: (row.type as string | null) ?? null,
        tags: [...((row.tags as Iterable<string> | null) ?? [])],
        date: (row.date as string | null) ?? null,
        review_by: (row.review_by as string | null) ?? null,
        mentions: [...((row.mentions as Iterable<string> | null) ?? [])],
      }));
    expect(chunkViews(answer).map((v) => v.view)).toEqual(arrowRows(answer));
    // A slice starts inside the columns' buffers (an offset into them): not at the first value.
    for (const [from, to] of [
      [3, 17],
      [11, 40],
    ] as const) {
      const slice = answer.slice(from, to);
      expect(chunkViews(slice).map((v) => v.view)).toEqual(arrowRows(slice));
    }
    // The extra column is read as a number (a search's distance or score).
    const scored = await table.vectorSearch(written[1]!.vector).distanceType('dot').limit(5).toArrow();
    const distances = scored.getChild('_distance')!.toArray() as Float32Array;
    expect(chunkViews(scored, '_distance').map((v) => v.value)).toEqual([...distances]);
  } finally {
    table.close();
    db.close();
  }
});
