/**
 * Search reads the neighbours of its best matches from the notes themselves when they are the
 * files indexed (noteChunks.ts). A workspace can change under the daemon: a neighbour swapped for
 * a link to a file outside it, for a FIFO that would block a read, or its folder for a link; a
 * note can be written to be slow to parse. None of that may be read (or parsed on the daemon's
 * thread), stall a search, or show text the index does not hold: the answers stay those of the
 * index. Real stores, real files.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { NoteChunks } from '../../daemon/src/memory/noteChunks';
import { searchChunks } from '../../daemon/src/memory/search';
import { FolderOrder } from '../../daemon/src/memory/sequence';
import { closeBoth, type Stores } from '../../daemon/src/memory/store/stores';
import { indexFiles } from '../helpers/memory';

let dir: string;
let stores: Stores | null = null;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'keel-neighbour-reads-')));
});
afterEach(async () => {
  if (stores) await closeBoth(stores);
  stores = null;
  await rm(dir, { recursive: true, force: true });
});

const CHAT: Record<string, string> = {
  'msg-1.md': 'Dana: Morning! The train tickets for the team trip are booked.',
  'msg-9.md': 'Sam: Which venue did we book for the offsite in May?',
  'msg-10.md': 'Dana: The lighthouse in Scheveningen, right by the beach.',
  'msg-11.md': 'Sam: Perfect, thanks.',
};

it('never reads a neighbour through a link or a FIFO, and shows only what the index holds', async () => {
  const root = join(dir, 'ws');
  const outside = join(dir, 'outside');
  await mkdir(join(root, 'memory/chat'), { recursive: true });
  await mkdir(outside);
  const note = (text: string): string => `---\ndate: 2025-05-01\n---\n${text}\n`;
  for (const [name, text] of Object.entries(CHAT))
    await writeFile(join(root, 'memory/chat', name), note(text));
  // Notes written to be slow to parse: frontmatter of 1,200 keys (12 KB), and 3,000 headings in
  // lone carriage returns (12 KB): tens of milliseconds each, fine in the index's worker, not on
  // the daemon's thread at each search.
  const keys = Array.from({ length: 1_200 }, (_, i) => `k${i}: 1`).join('\n');
  await writeFile(
    join(root, 'memory/chat/msg-8.md'),
    `---\ndate: 2025-05-01\n${keys}\n---\nSam: See you there.\n`,
  );
  const secret = note('Dana: AKIAOUTSIDE the lighthouse credentials');
  await writeFile(join(outside, 'msg-10.md'), secret);
  await writeFile(join(outside, 'msg-11.md'), note(CHAT['msg-11.md']!));

  await writeFile(join(root, 'memory/chat/msg-0.md'), `---\rdate: 2025-05-01\r---\r${'# h\r'.repeat(3_000)}`);
  const paths = [...Object.keys(CHAT), 'msg-8.md', 'msg-0.md'].map((name) => `memory/chat/${name}`);
  const opened = await indexFiles(root, join(dir, 'state'), paths);
  ({ stores } = opened);
  const { writer, embedder } = opened;

  const notes = new NoteChunks(root, (path) => writer.stateOf(path));
  const options = {
    query: 'Which venue did we book for the offsite?',
    k: 4,
    maxAgeDays: 365,
    today: '2025-06-01',
    folderOrder: new FolderOrder(root),
  };
  const indexed = await searchChunks(stores.chunkIndex, embedder, options);
  expect(indexed.map((r) => r.path)).toContain('memory/chat/msg-10.md');
  expect(await searchChunks(stores.chunkIndex, embedder, { ...options, notes })).toEqual(indexed);
  // The slow notes are never parsed here: laid out by the writer, they are sliced by their layouts
  // (the headings in carriage returns make no chunk, in the index either); after a restart, when
  // no layout is known yet, they are left to the index.
  const fromIndex = async (path: string): Promise<unknown[]> =>
    (await stores!.chunkIndex.chunksAt([path], null)).sort((a, b) => a.chunk - b.chunk);
  for (const name of ['msg-8.md', 'msg-0.md'])
    expect(notes.read(`memory/chat/${name}`)).toEqual(await fromIndex(`memory/chat/${name}`));
  const restarted = new NoteChunks(root, (path) => {
    const { blob, size, mtimeMs } = writer.stateOf(path)!;
    return { blob, size, mtimeMs };
  });
  expect(restarted.read('memory/chat/msg-8.md')).toBeNull();
  expect(restarted.read('memory/chat/msg-0.md')).toBeNull();
  expect(restarted.read('memory/chat/msg-9.md')).toEqual(await fromIndex('memory/chat/msg-9.md'));
  expect(notes.read('memory/chat/msg-11.md')).not.toBeNull();

  // The answer swapped for a link to a file outside (with other text), its successor for a link
  // to a copy of itself (the same bytes), and a FIFO in place of the first message.
  await rm(join(root, 'memory/chat/msg-10.md'));
  await symlink(join(outside, 'msg-10.md'), join(root, 'memory/chat/msg-10.md'));
  await rm(join(root, 'memory/chat/msg-11.md'));
  await symlink(join(outside, 'msg-11.md'), join(root, 'memory/chat/msg-11.md'));
  await rm(join(root, 'memory/chat/msg-1.md'));
  execFileSync('mkfifo', [join(root, 'memory/chat/msg-1.md')]);
  for (const name of ['msg-1.md', 'msg-10.md', 'msg-11.md'])
    expect(notes.read(`memory/chat/${name}`)).toBeNull();
  // (The folder's order now leaves out what is not a plain file, for both searches alike.)
  const swapped = await searchChunks(stores.chunkIndex, embedder, { ...options, notes });
  expect(swapped).toEqual(await searchChunks(stores.chunkIndex, embedder, options));
  expect(swapped.map((r) => r.path)).toContain('memory/chat/msg-10.md');
  expect(JSON.stringify(swapped)).not.toContain('AKIAOUTSIDE');

  // The whole folder swapped for a link to a copy of it.
  await rename(join(root, 'memory/chat'), join(outside, 'chat'));
  await symlink(join(outside, 'chat'), join(root, 'memory/chat'));
  expect(notes.read('memory/chat/msg-9.md')).toBeNull();
  const linked = await searchChunks(stores.chunkIndex, embedder, { ...options, notes });
  expect(linked).toEqual(await searchChunks(stores.chunkIndex, embedder, options));
  expect(JSON.stringify(linked)).not.toContain('AKIAOUTSIDE');
});
