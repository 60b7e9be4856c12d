/**
 * A save of one or two small notes is parsed and embedded on the daemon's own thread (the trip to
 * the worker thread waits for a core on a busy machine); anything else goes to the worker, so a
 * note written to be slow to parse never holds up the daemon's thread. Both ways give the same
 * rows and vectors. Real files, the real worker thread and embedder.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import { prepareBatch, type PreparedBatch } from '../../daemon/src/memory/indexBatch';
import { WorkerPreparer, type FilePreparer } from '../../daemon/src/memory/prepare';

let root: string;
let worker: WorkerPreparer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-save-parse-'));
  worker = new WorkerPreparer(createLogger({ level: 'error', write: () => undefined }));
});
afterAll(async () => {
  await worker.close();
  await rm(root, { recursive: true, force: true });
});

const NOTES: Record<string, string> = {
  'small.md': '---\ntype: note\ntags: [inbox]\n---\n# Call back\n\nThe renewal terms are still open.\n',
  'other.md': '# Other\n\nA second note.\n',
  'third.md': '# Third\n\nA third note.\n',
  // Each YAML key costs tens of microseconds; each line a few.
  'keys.md': `---\n${Array.from({ length: 60 }, (_, i) => `k${i}: v`).join('\n')}\n---\n# Keys\n\ntext\n`,
  'lines.md': `# Lines\n\n${'- item\n'.repeat(400)}`,
  'large.md': `# Large\n\n${'A long paragraph of words. '.repeat(600)}\n`,
};

/** The batch as the writer prepares it, and the paths the worker was given. */
async function prepare(paths: string[]): Promise<{ batch: PreparedBatch; toWorker: string[] }> {
  const toWorker: string[] = [];
  const counting: FilePreparer = {
    prepare: (files, embed) => {
      toWorker.push(...files.map((f) => f.path));
      return worker.prepare(files, embed);
    },
    close: () => Promise.resolve(),
  };
  const batch = await prepareBatch(paths, {
    root,
    embedder: await createLocalEmbedder(),
    preparer: counting,
    embedInPreparer: true,
    known: () => undefined,
  });
  return { batch, toWorker };
}

const rowsOf = (batch: PreparedBatch, path: string): unknown[] =>
  batch.rows.filter((row) => row.path === path).map((row) => ({ ...row, vector: [...row.vector] }));

it('parses a save of small notes on its own thread, and sends slow or many notes to the worker', async () => {
  for (const [name, content] of Object.entries(NOTES)) await writeFile(join(root, name), content);

  const here = await prepare(['small.md', 'other.md']);
  expect(here.toWorker).toEqual([]);
  expect(rowsOf(here.batch, 'small.md')).toHaveLength(1);

  // Three files: a rescan or a checkout, not a save.
  const many = await prepare(['small.md', 'other.md', 'third.md']);
  expect(many.toWorker).toEqual(['small.md', 'other.md', 'third.md']);
  expect(rowsOf(here.batch, 'small.md')).toEqual(rowsOf(many.batch, 'small.md'));
  expect(here.batch.layouts.get('small.md')).toEqual(many.batch.layouts.get('small.md'));

  for (const slow of ['keys.md', 'lines.md', 'large.md']) {
    const alone = await prepare([slow]);
    expect(alone.toWorker, slow).toEqual([slow]);
    expect(alone.batch.indexed.map((d) => d.path)).toEqual([slow]);
  }
});
