/**
 * Search lifts the neighbours of its best matches (sequence.ts), reading their chunks from the
 * notes themselves where the file is the one indexed (noteChunks.ts). Whatever it reads them from,
 * the answers must be the index's: the same results, scores and fields as a search that reads
 * every neighbour from the index, with and without filters, and after notes change on disk
 * without being indexed again. Real LanceDB, DuckDB and files.
 */
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SearchFilter } from '@keel/schemas';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Embedder } from '../../daemon/src/memory/embed/embedder';
import type { IndexWriter } from '../../daemon/src/memory/indexer';
import { NoteChunks } from '../../daemon/src/memory/noteChunks';
import { searchChunks } from '../../daemon/src/memory/search';
import { FolderOrder } from '../../daemon/src/memory/sequence';
import { closeBoth, type Stores } from '../../daemon/src/memory/store/stores';
import { indexFiles, writeNote } from '../helpers/memory';

let dir: string;
let stores: Stores | null = null;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'keel-note-chunks-')));
});
afterEach(async () => {
  if (stores) await closeBoth(stores);
  stores = null;
  await rm(dir, { recursive: true, force: true });
});

/** A seeded generator, so a failure names the same workspace every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const WORDS = (
  'ledger invoice harbour lantern orchid quarry saffron tundra velvet walnut anchor bramble cobalt ' +
  'dune ember fjord glacier heron indigo juniper kestrel lagoon meadow nectar opal pebble quill ' +
  'raven sable thistle umber vesper willow yarrow zephyr'
).split(' ');

/** Three folders of dated notes in sequence (one of them large), and a folder of undated ones. */
async function writeWorkspace(root: string): Promise<void> {
  const next = random(7);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)]!;
  const words = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  for (const folder of ['chat', 'meetings', 'journal']) {
    for (let i = 1; i <= 12; i++) {
      const tags = ['alpha', 'beta', 'gamma'].filter(() => next() < 0.5);
      const frontmatter = [
        `type: ${pick(['meeting', 'note', 'customer'])}`,
        `tags: [${tags.join(', ')}]`,
        `date: 2025-01-${String(i).padStart(2, '0')}`,
        ...(next() < 0.3 ? [`review-by: ${pick(['2020-06-01', '2030-06-01'])}`] : []),
        ...(next() < 0.5 ? [`company: ${pick(['Acme', 'Northwind'])}`] : []),
      ];
      const sections = Array.from(
        { length: 1 + Math.floor(next() * 4) },
        (_, s) => `## Part ${s}\n\n${words(12)}\n`,
      );
      const body = folder === 'journal' && i === 6 ? `${words(40)}\n\n`.repeat(300) : sections.join('\n');
      await writeNote(
        root,
        `memory/${folder}/${folder[0]}-${i}.md`,
        `---\n${frontmatter.join('\n')}\n---\n# ${folder} ${i}\n\n${body}`,
      );
    }
  }
  for (let i = 1; i <= 8; i++)
    await writeNote(root, `memory/undated/u-${i}.md`, `# Undated ${i}\n\n${words(15)}\n`);
}

/** The workspace's notes indexed into new stores (closed after the test). */
async function indexWorkspace(root: string): Promise<{ writer: IndexWriter; embedder: Embedder }> {
  const paths = ['chat', 'meetings', 'journal'].flatMap((f) =>
    Array.from({ length: 12 }, (_, i) => `memory/${f}/${f[0]}-${i + 1}.md`),
  );
  paths.push(...Array.from({ length: 8 }, (_, i) => `memory/undated/u-${i + 1}.md`));
  const opened = await indexFiles(root, join(dir, 'state'), paths);
  stores = opened.stores;
  return opened;
}

const FILTERS: (SearchFilter | undefined)[] = [
  undefined,
  { type: 'meeting' },
  { type: ['note', 'customer'] },
  { tags: ['alpha'] },
  { tags: ['alpha', 'beta'], tagsMatch: 'all' },
  { pathPrefix: 'memory/chat/' },
  { path: 'memory/**/m-1*.md' },
  { dateFrom: '2025-01-05' },
  { dateTo: '2025-01-08', type: 'note' },
  { excludeStale: true },
];

it('lifts the same neighbours from the notes as from the index, and reads the notes it can', async () => {
  const root = join(dir, 'ws');
  await writeWorkspace(root);
  const { writer, embedder } = await indexWorkspace(root);
  const notes = new NoteChunks(root, (path) => writer.stateOf(path));
  const served = { notes: 0, index: 0 };
  const read = notes.read.bind(notes);
  notes.read = (path) => {
    const views = read(path);
    served[views ? 'notes' : 'index'] += 1;
    return views;
  };
  const folderOrder = new FolderOrder(root);
  const next = random(11);
  const queries = Array.from({ length: 12 }, () =>
    Array.from({ length: 3 }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '),
  );
  const compare = async (): Promise<void> => {
    for (const query of queries) {
      for (const filter of FILTERS) {
        const options = { query, k: 8, filter, maxAgeDays: 365, today: '2025-02-01', folderOrder };
        const fromIndex = await searchChunks(stores!.chunkIndex, embedder, options);
        const fromNotes = await searchChunks(stores!.chunkIndex, embedder, { ...options, notes });
        expect(fromNotes, `${query} ${JSON.stringify(filter)}`).toEqual(fromIndex);
      }
    }
  };
  await compare();
  // Most neighbours came from the notes; the undated and the large one only from the index.
  expect(served.notes).toBeGreaterThan(served.index);
  expect(notes.read('memory/chat/c-3.md')).not.toBeNull();
  expect(notes.read('memory/undated/u-3.md')).toBeNull();
  expect(notes.read('memory/journal/j-6.md')).toBeNull();

  // Notes changed on disk and not indexed again: search still answers with what the index holds.
  for (const name of ['c-2', 'c-3', 'c-4', 'c-5', 'c-6', 'c-7'])
    await writeFile(
      join(root, `memory/chat/${name}.md`),
      `---\ndate: 2025-01-01\n---\n# Rewritten\n\nzebra zebra\n`,
    );
  expect(notes.read('memory/chat/c-3.md')).toBeNull();
  await compare();
});
