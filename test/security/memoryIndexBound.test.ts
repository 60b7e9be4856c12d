/**
 * A workspace writer (a sync client, a runaway script, a crafted archive unpacked into notes) that
 * creates thousands of notes at once cannot make the index writer hold them all in memory: it
 * prepares one batch while it writes the one before, never more (indexer.ts), so at most two
 * batches of file contents, parses and vectors are alive at any moment whatever the queue holds.
 * Real stores in a temp folder; the in-process preparer, watched as each batch reaches it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import { IndexWriter } from '../../daemon/src/memory/indexer';
import { inProcessPreparer, type FilePreparer } from '../../daemon/src/memory/prepare';
import { closeBoth, openStores, type Stores } from '../../daemon/src/memory/store/stores';

const NOTES = 4_200;
/** The writer's batch (indexer.ts): paths read and written together. */
const BATCH = 1_024;

let dir: string;
let stores: Stores | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-index-bound-'));
});
afterEach(async () => {
  if (stores) await closeBoth(stores);
  stores = null;
  await rm(dir, { recursive: true, force: true });
});

it('holds at most two batches of a flood of new notes at once, and indexes them all', async () => {
  const root = join(dir, 'ws');
  await mkdir(root);
  const paths = Array.from({ length: NOTES }, (_, i) => `flood/n${i}.md`);
  await mkdir(join(root, 'flood'));
  await Promise.all(
    paths.map((p, i) => writeFile(join(root, p), `# Note ${i}\n\nFiller text number ${i}.\n`)),
  );

  const embedder = await createLocalEmbedder();
  const log = createLogger({ level: 'warn' });
  stores = await openStores(join(dir, 'state'), embedder.dimensions, log);
  // Each batch's catalog commit takes 300 ms more here, as on a slow disk: the next batch (tiny
  // notes, read in a few milliseconds) reaches the preparer while this one is still written, so
  // the test sees the pipeline run however fast this machine writes.
  const catalog = stores.catalog;
  const apply = catalog.apply.bind(catalog);
  catalog.apply = async (batch) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return apply(batch);
  };
  let written = 0;
  let mostHeld = 0;
  let writer: IndexWriter | null = null;
  // Each time a batch reaches the preparer: paths taken from the queue and not yet written.
  const preparer: FilePreparer = {
    prepare(files, embed) {
      mostHeld = Math.max(mostHeld, NOTES - writer!.pending - written);
      return inProcessPreparer.prepare(files, embed);
    },
    close: () => Promise.resolve(),
  };
  writer = new IndexWriter(
    {
      root,
      ...stores,
      embedder,
      log,
      preparer,
      onProgress: () => (written = writer?.progress?.done ?? written),
    },
    new Map(),
  );
  writer.enqueue(paths);
  await writer.whenIdle();

  expect((await stores.catalog.fileStates()).size).toBe(NOTES);
  // A second batch was prepared while one was held (the pipeline ran), and never a third.
  expect(mostHeld).toBeGreaterThan(BATCH);
  expect(mostHeld).toBeLessThanOrEqual(2 * BATCH);
}, 180_000);
