/**
 * Saves land in a small table of the newest chunks beside the main one, folded in when writes
 * pause (chunkIndex.ts). Whatever the state of the two tables (mid-way, after a restart, after a
 * crash between two writes, after the fold), a search shows each path's newest text only, once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { ChunkIndex, type ChunkRow } from '../../daemon/src/memory/store/chunkIndex';
import { lance } from '../../daemon/src/memory/store/lanceModules';
import { RECENT_TABLE } from '../../daemon/src/memory/store/recentChunks';

const DIMENSIONS = 8;
let dir: string;
let index: ChunkIndex | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-recent-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await index?.whenOptimized();
  index?.close();
  index = null;
  await rm(dir, { recursive: true, force: true });
});

const open = async (): Promise<ChunkIndex> =>
  (index = await ChunkIndex.open(dir, DIMENSIONS, createLogger({ level: 'error' })));

const reopen = async (): Promise<ChunkIndex> => {
  await index!.whenOptimized();
  index!.close();
  return open();
};

/** A note of `chunks` chunks, each saying `words` (and its own direction for the vectors). */
function note(path: string, words: string, chunks = 1, seed = 0): ChunkRow[] {
  return Array.from({ length: chunks }, (_, chunk) => {
    const vector = new Float32Array(DIMENSIONS);
    vector[(seed + chunk) % DIMENSIONS] = 1;
    const text = `${words} part ${chunk}`;
    return {
      id: `${path}#${chunk}`,
      path,
      chunk,
      start_line: chunk * 3 + 1,
      end_line: chunk * 3 + 2,
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
  });
}

/** What a full-text search shows: `path#chunk: text`, sorted. */
async function found(words: string): Promise<string[]> {
  const hits = await index!.textSearch(words, 50, null);
  return hits.map((h) => `${h.view.id}: ${h.view.text}`).sort();
}

async function vectorIds(): Promise<string[]> {
  const probe = new Float32Array(DIMENSIONS).fill(1 / Math.sqrt(DIMENSIONS));
  return (await index!.vectorSearch(probe, 50, null)).map((h) => h.view.id).sort();
}

async function recentRows(): Promise<number> {
  const db = await lancedb.connect(dir);
  const table = await db.openTable(RECENT_TABLE);
  try {
    return await table.countRows();
  } finally {
    table.close();
    db.close();
  }
}

/** The main table holds a.md (3 chunks), b.md and c.md, with its indexes built. */
async function indexed(): Promise<void> {
  await open();
  await index!.replace(
    ['a.md', 'b.md', 'c.md'],
    [...note('a.md', 'alpha oldword', 3), ...note('b.md', 'bravo', 1, 3), ...note('c.md', 'charlie', 1, 4)],
  );
  await index!.maintain({ optimize: false });
}

it('shows the newest text of an edited note, never the old chunks, before and after the fold', async () => {
  await indexed();
  // a.md shrinks to 2 chunks with new text; d.md is new; b.md is deleted.
  await index!.replace(['a.md'], note('a.md', 'alpha newword', 2));
  await index!.replace(['d.md'], note('d.md', 'delta', 1, 6));
  await index!.replace(['b.md'], []);
  expect(await recentRows()).toBeGreaterThan(0);

  const expectCurrent = async (): Promise<void> => {
    expect(await found('oldword')).toEqual([]);
    expect(await found('newword')).toEqual(['a.md#0: alpha newword part 0', 'a.md#1: alpha newword part 1']);
    expect(await found('bravo')).toEqual([]);
    expect(await found('delta')).toEqual(['d.md#0: delta part 0']);
    expect(await vectorIds()).toEqual(['a.md#0', 'a.md#1', 'c.md#0', 'd.md#0']);
    expect(await index!.countRows()).toBe(4);
  };
  await expectCurrent();
  await reopen(); // a restart with the small table holding the newest writes
  await expectCurrent();
  expect(await index!.optimize({ full: true })).toBe('compacted');
  expect(await recentRows()).toBe(0);
  await expectCurrent();
  await reopen();
  await expectCurrent();
});

it('after a crash between two writes, the newest rows of each path win', async () => {
  await indexed();
  await index!.replace(['a.md'], note('a.md', 'alpha newword', 2));
  index!.close();
  index = null;
  // What a kill -9 can leave: an older write of a.md still in the small table (its delete never
  // ran), and a.md's main-table rows not yet deleted.
  const db = await lancedb.connect(dir);
  const recent = await db.openTable(RECENT_TABLE);
  await recent.add(note('a.md', 'alpha staleword', 3).map((row) => ({ ...row, seq: -1 })));
  const main = await db.openTable('chunks');
  await main.add(note('a.md', 'alpha oldword', 3).map((row) => ({ ...row })));
  recent.close();
  main.close();
  db.close();

  await open();
  expect(await found('staleword')).toEqual([]);
  expect(await found('oldword')).toEqual([]);
  expect(await found('newword')).toEqual(['a.md#0: alpha newword part 0', 'a.md#1: alpha newword part 1']);
  expect(await index!.countRows()).toBe(4);
});

/**
 * Holds every LanceDB add (the real one, run once `release` is called) or fails the next one:
 * what a slow disk or a refused write looks like from the index.
 */
async function holdAdds(): Promise<{ entered: Promise<void>; release: () => void; failNext: () => void }> {
  const db = await lance().lancedb.connect(dir);
  const table = await db.openTable(RECENT_TABLE);
  const proto = Object.getPrototypeOf(table) as lancedb.Table;
  table.close();
  db.close();
  type Add = (
    this: lancedb.Table,
    ...args: Parameters<lancedb.Table['add']>
  ) => ReturnType<lancedb.Table['add']>;
  const add = Reflect.get(proto, 'add') as Add;
  let entered!: () => void;
  const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let fail = false;
  vi.spyOn(proto, 'add').mockImplementation(async function (this: lancedb.Table, ...args) {
    entered();
    if (fail) {
      fail = false;
      throw new Error('disk full');
    }
    await released;
    return add.apply(this, args);
  });
  return { entered: enteredPromise, release, failNext: () => (fail = true) };
}

it('an unfiltered search finds a save while LanceDB writes it; a filtered one the older text until then', async () => {
  await indexed();
  await index!.replace(['a.md'], note('a.md', 'alpha firstedit', 2));
  const adds = await holdAdds();
  const writing = index!.replace(['a.md'], note('a.md', 'alpha secondedit', 1));
  await adds.entered;
  expect(await found('secondedit')).toEqual(['a.md#0: alpha secondedit part 0']);
  expect(await found('firstedit')).toEqual([]);
  // A filter is SQL, answered by the table: the older rows until the add commits, never neither.
  const filtered = async (): Promise<string[]> =>
    (await index!.textSearch('alpha', 50, `type = 'note'`)).map((h) => h.view.text).sort();
  expect(await filtered()).toEqual(['alpha firstedit part 0', 'alpha firstedit part 1']);
  adds.release();
  await writing;
  expect(await filtered()).toEqual(['alpha secondedit part 0']);
  expect(await found('secondedit')).toEqual(['a.md#0: alpha secondedit part 0']);
});

it('a save the table refuses leaves every search on the text the table holds, until it is written again', async () => {
  await indexed();
  await index!.replace(['a.md'], note('a.md', 'alpha firstedit', 2));
  const adds = await holdAdds();
  adds.release();
  adds.failNext();
  await expect(index!.replace(['a.md'], note('a.md', 'alpha lostedit', 1))).rejects.toThrow('disk full');
  await expect(index!.replace(['d.md'], note('d.md', 'delta lostnote', 1, 6))).resolves.toBeUndefined();
  expect(await found('lostedit')).toEqual([]);
  expect(await found('firstedit')).toEqual([
    'a.md#0: alpha firstedit part 0',
    'a.md#1: alpha firstedit part 1',
  ]);
  expect((await vectorIds()).filter((id) => id.startsWith('a.md'))).toEqual(['a.md#0', 'a.md#1']);
  // The writer puts the batch back; written again, it shows.
  await index!.replace(['a.md'], note('a.md', 'alpha lostedit', 1));
  expect(await found('firstedit')).toEqual([]);
  expect(await found('lostedit')).toEqual(['a.md#0: alpha lostedit part 0']);
});

it('takes saves while the main table is compacted, and hides their old rows until it is', async () => {
  await indexed();
  await index!.replace(['c.md'], note('c.md', 'charlie first edit', 1, 4));
  // A compaction of the main table (after the fold) runs beside the writes.
  const compaction = index!.optimize({ full: true });
  await index!.replace(['a.md'], note('a.md', 'alpha newword', 1));
  await index!.replace(['c.md'], note('c.md', 'charlie second edit', 1, 4));
  expect(await found('oldword')).toEqual([]);
  expect(await found('charlie')).toEqual(['c.md#0: charlie second edit part 0']);
  expect(await compaction).toBe('compacted');
  expect(await found('oldword')).toEqual([]);
  expect(await found('newword')).toEqual(['a.md#0: alpha newword part 0']);
  expect(await found('charlie')).toEqual(['c.md#0: charlie second edit part 0']);
  expect(await index!.countRows()).toBe(3);
});

async function mainVersion(): Promise<number> {
  const db = await lancedb.connect(dir);
  const table = await db.openTable('chunks');
  try {
    return await table.version();
  } finally {
    table.close();
    db.close();
  }
}

it('writes saves to the small table only, and every search (filtered or not) shows their newest text', async () => {
  await indexed();
  const before = await mainVersion();
  for (let i = 0; i < 12; i++) {
    await index!.replace(['a.md'], note('a.md', `alpha edit${i}`, 1 + (i % 3)));
    await index!.replace([`new${i}.md`], note(`new${i}.md`, `fresh${i}`, 1, i));
  }
  await index!.replace(['c.md'], []);
  // No delete or add per save in the main table: its old rows of a.md are hidden until the fold.
  expect(await mainVersion()).toBe(before);
  const current = async (): Promise<void> => {
    expect(await found('oldword')).toEqual([]);
    expect(await found('edit10')).toEqual([]);
    expect(await found('edit11')).toEqual([
      'a.md#0: alpha edit11 part 0',
      'a.md#1: alpha edit11 part 1',
      'a.md#2: alpha edit11 part 2',
    ]);
    expect(await found('fresh7')).toEqual(['new7.md#0: fresh7 part 0']);
    expect(await found('charlie')).toEqual([]);
    // A filter is SQL: the small table answers it from LanceDB, not from memory; same answer.
    const filtered = await index!.textSearch('alpha', 50, `type = 'note'`);
    expect(filtered.map((h) => h.view.text).sort()).toEqual([
      'alpha edit11 part 0',
      'alpha edit11 part 1',
      'alpha edit11 part 2',
    ]);
    const ids = await vectorIds();
    expect(ids.filter((id) => id.startsWith('a.md'))).toEqual(['a.md#0', 'a.md#1', 'a.md#2']);
    expect(ids).not.toContain('c.md#0');
    expect(await index!.countRows()).toBe(3 + 1 + 12);
  };
  await current();
  await reopen(); // the chunks in memory are read back from the small table
  await current();
  expect(await index!.optimize({ full: true })).toBe('compacted');
  expect(await mainVersion()).toBeGreaterThan(before);
  await current();
});

it('finds the unedited notes while more than a hundred edited ones are hidden in the main table', async () => {
  await open();
  const paths = Array.from({ length: 160 }, (_, i) => `n${String(i).padStart(3, '0')}.md`);
  // The 150 to be edited match the query best (text and vector); the 10 others less well.
  const rows = paths.flatMap((path, i) => {
    if (i < 150) return note(path, 'common common', 1, 0);
    const [row] = note(path, 'common topic with filler words', 1, 0);
    row!.vector = new Float32Array(DIMENSIONS);
    row!.vector[0] = 0.8;
    row!.vector[2] = 0.6;
    return [row!];
  });
  await index!.replace(paths, rows);
  await index!.maintain({ optimize: false });
  // 150 of them are edited: their main-table rows, which match best, are hidden until the fold.
  for (const path of paths.slice(0, 150)) await index!.replace([path], note(path, 'other words', 1, 1));
  const text = await index!.textSearch('common', 5, null);
  expect(text).toHaveLength(5);
  for (const hit of text) expect(paths.slice(150)).toContain(hit.view.path);
  const probe = new Float32Array(DIMENSIONS);
  probe[0] = 1;
  const vector = await index!.vectorSearch(probe, 5, null);
  expect(vector).toHaveLength(5);
  for (const hit of vector) expect(paths.slice(150)).toContain(hit.view.path);
});

it('brings into the indexes rows folded by a daemon stopped before it optimized', async () => {
  await indexed();
  expect(await index!.unindexedRows()).toBe(0);
  await index!.replace(['d.md'], note('d.md', 'delta', 2, 6));
  await index!.replace(['e.md'], note('e.md', 'echo', 1, 2));
  // Writes paused long enough to fold, not to optimize; then the daemon stops.
  expect(await index!.optimize({ full: false })).toBe('folded');
  expect(await recentRows()).toBe(0);
  await reopen();
  // Every text search now scans these rows; the first optimization when writes pause indexes them.
  expect(await index!.unindexedRows()).toBe(3);
  expect(await index!.optimize({ full: true })).toBe('compacted');
  expect(await index!.unindexedRows()).toBe(0);
  expect(await found('delta')).toEqual(['d.md#0: delta part 0', 'd.md#1: delta part 1']);
  expect(await found('echo')).toEqual(['e.md#0: echo part 0']);
  // Nothing left behind: the next one only folds.
  expect(await index!.optimize({ full: true })).toBe('folded');
});
