/**
 * A search filter is applied twice over: as a LanceDB `where` clause (filterSql) on the index, and
 * as a test of a note's fields (filterTest) on the chunks search reads from the notes themselves.
 * Both must pick the same notes: here every filter of a seeded set is asked of a real LanceDB table
 * and of the test, over the same rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, List, Schema, Utf8 } from 'apache-arrow';
import { SearchFilter } from '@keel/schemas';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { filterSql, filterTest, type FilteredFields } from '../../daemon/src/memory/filterSql';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-filter-match-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const PATHS = [
  'memory/customers/acme.md',
  'memory/customers/north-wind.md',
  'memory/chat/2025/msg-10.md',
  'memory/chat/2025/msg-9.md',
  'memory/chat/notes.yaml',
  'memory/archive/working/old.md',
  'memory/café/naïve ☕.md',
  'memory/a+b (1).md',
  'runbooks/sales.yaml',
];
const TYPES = ['customer', 'meeting', 'note'];
const TAGS = ['alpha', 'beta', 'gamma'];
const DAYS = ['2019-05-01', '2024-12-31', '2025-01-05', '2025-06-30', '2026-01-01', '2030-06-01'];

it('picks the same notes as the LanceDB clause, for every filter', async () => {
  const next = random(3);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
  const some = <T>(list: T[]): T[] => list.filter(() => next() < 0.4);
  const rows: (FilteredFields & { id: string })[] = Array.from({ length: 120 }, (_, i) => ({
    id: String(i),
    path: pick(PATHS),
    type: next() < 0.2 ? null : pick(TYPES),
    tags: some(TAGS),
    date: pick(DAYS),
    review_by: next() < 0.4 ? pick(DAYS) : null,
  }));
  const schema = new Schema([
    new Field('id', new Utf8(), false),
    new Field('path', new Utf8(), false),
    new Field('type', new Utf8(), true),
    new Field('tags', new List(new Field('item', new Utf8(), true)), false),
    new Field('date', new Utf8(), true),
    new Field('review_by', new Utf8(), true),
  ]);
  const db = await lancedb.connect(dir);
  const table = await db.createTable('rows', rows, { schema });

  const filters: SearchFilter[] = [
    { path: 'memory/**/*.md' },
    { path: 'memory/chat/**' },
    { path: 'memory/*/*.md' },
    { path: 'memory/chat/2025/msg-?.md' },
    { path: 'memory/café/*' },
    { path: 'memory/a+b (1).md' },
    { pathPrefix: 'memory/customers/' },
    { pathPrefix: 'runbooks' },
  ];
  for (let i = 0; i < 150; i++) {
    const filter: SearchFilter = {};
    if (next() < 0.4) filter.type = next() < 0.5 ? pick(TYPES) : [pick(TYPES), ...some(TYPES)];
    if (next() < 0.4) {
      filter.tags = [pick(TAGS), ...some(TAGS)];
      if (next() < 0.5) filter.tagsMatch = 'all';
    }
    if (next() < 0.3) filter.pathPrefix = pick(['memory/', 'memory/chat/', 'memory/customers/a']);
    if (next() < 0.3) filter.dateFrom = pick(DAYS);
    if (next() < 0.3) filter.dateTo = pick(DAYS);
    if (next() < 0.2) filter.since = pick(['30d', '52w']);
    if (next() < 0.3) filter.excludeStale = true;
    filters.push(SearchFilter.parse(filter));
  }
  const clock = { now: new Date('2025-07-01T12:00:00'), maxAgeDays: 365 };
  let nonEmpty = 0;
  for (const filter of filters) {
    const where = filterSql(filter, clock);
    const test = filterTest(filter, clock);
    expect(test === null, JSON.stringify(filter)).toBe(where === null);
    if (where === null || test === null) continue;
    const answer = (await table.query().where(where).select(['id']).toArray()) as { id: string }[];
    const picked = answer.map((r) => r.id);
    const expected = rows.filter(test).map((row) => row.id);
    expect(picked.sort(), JSON.stringify(filter)).toEqual(expected.sort());
    if (expected.length > 0 && expected.length < rows.length) nonEmpty++;
  }
  // The filters pick something and leave something out, for most of them: the comparison means something.
  expect(nonEmpty).toBeGreaterThan(filters.length / 2);
  table.close();
});
