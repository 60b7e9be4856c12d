/**
 * The index writer prepares one batch while it writes the one before (indexer.ts). A path reported
 * again while its batch is still on the way must be compared with the catalog only once that batch
 * is recorded: prepared beside it, a note deleted meanwhile would look never indexed, be skipped,
 * and stay searchable after its batch lands. Real stores (LanceDB, DuckDB) in a temp folder; the
 * preparer is the in-process one, with the user's edits made while the first batch is prepared.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import { gitBlobId } from '../../daemon/src/memory/files';
import { IndexWriter } from '../../daemon/src/memory/indexer';
import { inProcessPreparer, type FilePreparer } from '../../daemon/src/memory/prepare';
import { sqlString } from '../../daemon/src/memory/store/chunkIndex';
import { closeBoth, openStores, type Stores } from '../../daemon/src/memory/store/stores';

/**
 * One batch of 1,024 paths and part of a second: the paths reported again join the second batch,
 * prepared while the first is written, unless the writer holds them back.
 */
const NOTES = 1_100;

let dir: string;
let stores: Stores;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-pipeline-'));
});
afterEach(async () => {
  await closeBoth(stores).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

it('a note deleted or edited while its batch is on the way ends as it is on disk', async () => {
  const root = join(dir, 'ws');
  const paths = Array.from({ length: NOTES }, (_, i) => `note-${String(i).padStart(4, '0')}.md`);
  await mkdir(root);
  for (const path of paths) await writeFile(join(root, path), `# ${path}\n\nAbout the renewal of ${path}.\n`);
  const [deleted, edited] = [paths[0]!, paths[1]!];
  const edit = '# Edited\n\nThe contract was cancelled instead.\n';

  const embedder = await createLocalEmbedder();
  const log = createLogger({ level: 'warn' });
  stores = await openStores(join(dir, 'state'), embedder.dimensions, log);
  let writer: IndexWriter | null = null;
  let calls = 0;
  // While the first batch is prepared (its files already read), the user deletes one note and
  // edits another, and the watcher reports both.
  const preparer: FilePreparer = {
    async prepare(files, embed) {
      if (calls++ === 0) {
        await unlink(join(root, deleted));
        await writeFile(join(root, edited), edit);
        writer!.enqueue([deleted, edited]);
      }
      return inProcessPreparer.prepare(files, embed);
    },
    close: () => Promise.resolve(),
  };
  writer = new IndexWriter(
    { root, ...stores, embedder, log, preparer, onProgress: () => undefined },
    new Map(),
  );
  writer.enqueue(paths);
  await writer.whenIdle();

  const states = await stores.catalog.fileStates();
  expect(states.has(deleted)).toBe(false);
  expect(states.get(edited)?.blob).toBe(gitBlobId(Buffer.from(edit)));
  expect(states.size).toBe(NOTES - 1);
  expect(await stores.chunkIndex.countRows()).toBe(NOTES - 1);
  const query = await embedder.embedQuery('contract cancelled');
  const hits = await stores.chunkIndex.vectorSearch(query, 10, `path = ${sqlString(edited)}`);
  expect(hits.map((h) => h.view.text)).toEqual([edit.trim()]);
}, 120_000);
