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
import { gitBlobId } from '../../daemon/src/files/gitBlob';
import type { Embedder } from '../../daemon/src/memory/embed/embedder';
import type { IndexWriter } from '../../daemon/src/memory/indexer';
import { NoteChunks } from '../../daemon/src/memory/noteChunks';
import type { FileState } from '../../daemon/src/memory/store/catalog';
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
  for (const [path, content] of Object.entries(ODD)) await writeNote(root, path, content);
}

/**
 * Notes whose chunks are awkward to give back from the file. Two hold a lone half of a surrogate
 * pair, which LanceDB (UTF-8) keeps as U+FFFD: only the index has them as it holds them.
 */
const ODD: Record<string, string> = {
  // A line longer than a chunk, cut between the two halves of the emoji.
  'memory/odd/o-1.md': `---\ndate: 2025-02-01\n---\n# Log\n\n${'a'.repeat(1_999)}\u{1F600} tail\n`,
  'memory/odd/o-2.md':
    '---\r\ndate: 2025-02-02\r\n---\r\n# Windows\r\n\r\nfirst line\r\nsecond line\r\n\r\n## Part\r\n\r\nmore\r\n',
  'memory/odd/o-3.yaml': 'type: data\ntags: [ops]\nname: widget\nsteps:\n  - one\n  - two\n',
  'memory/odd/o-4.md': '---\ndate: [unclosed\n---\n# Rejected\n\ntext\n',
  'memory/odd/o-5.md': '---\ndate: 2025-02-05\n---\n# A > B\n\ntext one\n\n### > C >\n\ntext two\n',
  'memory/odd/o-6.md': '---\ndate: 2025-02-06\ntype: "a\\ud800b"\n---\n# Escaped\n\ntext\n',
};
const LONE_HALVES = ['memory/odd/o-1.md', 'memory/odd/o-6.md'];

/** The workspace's notes indexed into new stores (closed after the test). */
async function indexWorkspace(root: string): Promise<{ writer: IndexWriter; embedder: Embedder }> {
  const paths = ['chat', 'meetings', 'journal'].flatMap((f) =>
    Array.from({ length: 12 }, (_, i) => `memory/${f}/${f[0]}-${i + 1}.md`),
  );
  paths.push(...Array.from({ length: 8 }, (_, i) => `memory/undated/u-${i + 1}.md`), ...Object.keys(ODD));
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

const QUERIES = ((): string[] => {
  const next = random(11);
  return Array.from({ length: 12 }, () =>
    Array.from({ length: 3 }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '),
  );
})();

/** `notes`, counting the notes it answers from the files and those it leaves to the index. */
function counted(notes: NoteChunks): { notes: NoteChunks; served: { notes: number; index: number } } {
  const served = { notes: 0, index: 0 };
  const read = notes.read.bind(notes);
  notes.read = (path, folders) => {
    const views = read(path, folders);
    served[views ? 'notes' : 'index'] += 1;
    return views;
  };
  return { notes, served };
}

/** Every query under every filter answers the same reading neighbours from `notes` as from the index. */
async function compare(root: string, embedder: Embedder, notes: NoteChunks): Promise<void> {
  const folderOrder = new FolderOrder(root);
  for (const query of QUERIES) {
    for (const filter of FILTERS) {
      const options = { query, k: 8, filter, maxAgeDays: 365, today: '2025-02-01', folderOrder };
      const fromIndex = await searchChunks(stores!.chunkIndex, embedder, options);
      const fromNotes = await searchChunks(stores!.chunkIndex, embedder, { ...options, notes });
      expect(fromNotes, `${query} ${JSON.stringify(filter)}`).toEqual(fromIndex);
    }
  }
}

/** The index's chunks of `path`, in order. */
async function indexed(path: string): Promise<unknown[]> {
  return (await stores!.chunkIndex.chunksAt([path], null)).sort((a, b) => a.chunk - b.chunk);
}

/** Each odd note from `notes` is what the index holds, or left to it; those with lone halves are. */
async function compareOdd(notes: NoteChunks): Promise<(string | null)[]> {
  const read: (string | null)[] = [];
  for (const path of Object.keys(ODD)) {
    const views = notes.read(path);
    if (views) expect(views, path).toEqual(await indexed(path));
    read.push(views ? path : null);
  }
  for (const path of LONE_HALVES) expect(notes.read(path), path).toBeNull();
  expect(JSON.stringify(await indexed('memory/odd/o-1.md'))).toContain('\uFFFD');
  return read;
}

it('lifts the same neighbours from the notes as from the index, and reads the notes it can', async () => {
  const root = join(dir, 'ws');
  await writeWorkspace(root);
  const { writer, embedder } = await indexWorkspace(root);
  const { notes, served } = counted(new NoteChunks(root, (path) => writer.stateOf(path)));
  await compare(root, embedder, notes);
  // Most neighbours came from the notes; the large one only from the index.
  expect(served.notes).toBeGreaterThan(served.index);
  expect(notes.read('memory/chat/c-3.md')).toEqual(await indexed('memory/chat/c-3.md'));
  // An undated note's day is its file's time when indexed: the writer's layout keeps it.
  expect(notes.read('memory/undated/u-3.md')).toEqual(await indexed('memory/undated/u-3.md'));
  expect(notes.read('memory/journal/j-6.md')).toBeNull();
  // Laid out by the writer: all but those with lone halves come from their files.
  expect(await compareOdd(notes)).toEqual([
    null,
    'memory/odd/o-2.md',
    'memory/odd/o-3.yaml',
    'memory/odd/o-4.md',
    'memory/odd/o-5.md',
    null,
  ]);

  // Notes changed on disk and not indexed again: search still answers with what the index holds.
  for (const name of ['c-2', 'c-3', 'c-4', 'c-5', 'c-6', 'c-7'])
    await writeFile(
      join(root, `memory/chat/${name}.md`),
      `---\ndate: 2025-01-01\n---\n# Rewritten\n\nzebra zebra\n`,
    );
  expect(notes.read('memory/chat/c-3.md')).toBeNull();
  await compare(root, embedder, notes);
});

it('parses a note indexed before the daemon started once, then reads it by its layout', async () => {
  const root = join(dir, 'ws');
  await writeWorkspace(root);
  const { embedder } = await indexWorkspace(root);
  // A note the worker gave up on (a timeout): rejected, no chunks in the index, though it parses.
  const gaveUp = 'memory/chat/c-13.md';
  const content = Buffer.from('---\ndate: 2025-01-13\n---\n# Late\n\nharbour lantern orchid\n');
  await writeFile(join(root, gaveUp), content);
  const problem = { path: gaveUp, line: 1, column: 1, severity: 'error' as const, message: 'timed out' };
  const file = { path: gaveUp, blob: gitBlobId(content), size: content.length, mtimeMs: Date.now() };
  await stores!.catalog.apply({ indexed: [], rejected: [{ ...file, problem }], removed: [] });
  // The writer's records as a restarted daemon loads them from the catalog: no layouts.
  const states: Map<string, FileState> = await stores!.catalog.fileStates();
  expect([...states.values()].some((state) => state.layout)).toBe(false);
  const { notes, served } = counted(new NoteChunks(root, (path) => states.get(path)));
  expect(notes.read(gaveUp)).toEqual([]);
  expect(await indexed(gaveUp)).toEqual([]);
  await compare(root, embedder, notes);
  expect(served.notes).toBeGreaterThan(served.index);
  const chat = states.get('memory/chat/c-3.md')!;
  expect(notes.read('memory/chat/c-3.md')).toEqual(await indexed('memory/chat/c-3.md'));
  expect(chat.layout).toBeDefined();
  // Read again, now by its layout.
  expect(notes.read('memory/chat/c-3.md')).toEqual(await indexed('memory/chat/c-3.md'));
  // Undated, and never laid out: only the index knows its day.
  expect(notes.read('memory/undated/u-3.md')).toBeNull();
  expect(states.get('memory/undated/u-3.md')!.layout).toBeUndefined();
  await compare(root, embedder, notes);
  // Parsed: the undated YAML file is left to the index, and what has lone halves.
  expect(await compareOdd(notes)).toEqual([
    null,
    'memory/odd/o-2.md',
    null,
    'memory/odd/o-4.md',
    'memory/odd/o-5.md',
    null,
  ]);
});

it('reads a note just written from its file as soon as searches show it, before the catalog records it', async () => {
  const root = join(dir, 'ws');
  await writeWorkspace(root);
  const { writer, embedder } = await indexWorkspace(root);
  // Full-text index built: later writes go to the small table and its copy in memory, as saves do.
  await stores!.chunkIndex.maintain({ optimize: false });
  const { notes, served } = counted(new NoteChunks(root, (path) => writer.shownStateOf(path)));
  // The catalog's commit held back: the writer's batch is searchable, not yet recorded.
  const catalog = stores!.catalog;
  const apply = catalog.apply.bind(catalog);
  let release: (failure?: Error) => void = () => undefined;
  let held: () => void = () => undefined;
  /** Resolves once the next commit is held (and `release` lets it go, or fails it). */
  const nextCommitHeld = (): Promise<void> => new Promise((resolve) => (held = resolve));
  catalog.apply = async (batch) => {
    const released = new Promise<void>(
      (resolve, reject) => (release = (failure) => (failure ? reject(failure) : resolve())),
    );
    held();
    await released;
    return apply(batch);
  };
  const edited = 'memory/chat/c-4.md';
  const added = 'memory/chat/c-13.md';
  const before = writer.stateOf(edited)!.blob;
  const contents = {
    [edited]:
      '---\ndate: 2025-01-04\n---\n# Chat 4\n\nzebra harbour lantern, said again\n\n## More\n\nquarry\n',
    [added]: '---\ndate: 2025-01-13\n---\n# Chat 13\n\nzebra orchid saffron\n',
  };
  for (const [path, content] of Object.entries(contents)) await writeNote(root, path, content);
  let commit = nextCommitHeld();
  writer.enqueue([edited, added]);
  await writer.whenWritten([edited, added], 'searchable');
  await commit;

  expect(writer.stateOf(edited)!.blob).toBe(before);
  expect(writer.stateOf(added)).toBeUndefined();
  for (const [path, content] of Object.entries(contents)) {
    expect(writer.shownStateOf(path)!.blob).toBe(gitBlobId(Buffer.from(content)));
    expect(notes.read(path), path).toEqual(await indexed(path));
  }
  served.notes = served.index = 0;
  await compare(root, embedder, notes);
  expect(served.notes).toBeGreaterThan(served.index);

  release();
  await writer.whenIdle();
  expect(writer.stateOf(edited)!.blob).toBe(gitBlobId(Buffer.from(contents[edited])));

  // A commit that fails: the batch is written again later, and meanwhile the index answers for it.
  const third = 'memory/chat/c-5.md';
  const recorded = writer.stateOf(third)!.blob;
  await writeNote(root, third, '---\ndate: 2025-01-05\n---\n# Chat 5\n\nzebra walnut\n');
  commit = nextCommitHeld();
  writer.enqueue([third]);
  await writer.whenWritten([third], 'searchable');
  await commit;
  expect(notes.read(third)).toEqual(await indexed(third));
  const failed = writer.whenIdle();
  release(new Error('disk full'));
  await expect(failed).rejects.toThrow('disk full');
  expect(writer.shownStateOf(third)!.blob).toBe(recorded);
  expect(notes.read(third)).toBeNull();
  await compare(root, embedder, notes);
});
