/**
 * The daemon's worker embeds notes with the word table its main thread read (memory both threads
 * share), not with a second copy read from the file: what the main thread read is what the worker
 * uses, even when the file changed since.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assetPath, createLocalEmbedder, loadLocalEmbedder } from '../../daemon/src/memory/embed/local';
import { readWordTable, VOCABULARY } from '../../daemon/src/memory/embed/staticAsset';
import { WorkerPreparer } from '../../daemon/src/memory/prepare';
import { createLogger } from '../../daemon/src/log';

let dir: string;
let saved: string | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-shared-table-'));
  saved = process.env.KEEL_EMBEDDER_ASSET;
});
afterAll(async () => {
  if (saved === undefined) delete process.env.KEEL_EMBEDDER_ASSET;
  else process.env.KEEL_EMBEDDER_ASSET = saved;
  await rm(dir, { recursive: true, force: true });
});

it('embeds notes in the worker with the table the main thread read', async () => {
  const original = await readFile(assetPath());
  // A copy whose vector of "renewal" is turned around: the table the main thread reads.
  const rank = readWordTable(assetPath()).words.get('renewal')!;
  const header = original.readUInt32LE(8);
  const words = original.readUInt32LE(12 + header);
  const vectors = 12 + header + 4 + words + VOCABULARY * 4;
  const changed = Buffer.from(original);
  for (let j = 0; j < 100; j++)
    changed.writeInt8(-original.readInt8(vectors + rank * 100 + j), vectors + rank * 100 + j);
  const file = join(dir, 'table.bin');
  await writeFile(file, changed);
  process.env.KEEL_EMBEDDER_ASSET = file;
  const mainThread = await createLocalEmbedder();
  // The file goes back to the shipped table: a worker reading it would embed otherwise.
  await writeFile(file, original);

  const preparer = new WorkerPreparer(createLogger({ level: 'error', write: () => undefined }));
  try {
    const content = '---\ntype: contract\n---\n# Acme\nThe renewal is due in March.\n';
    const [prepared] = await preparer.prepare([{ path: 'memory/acme.md', content }], true);
    const inWorker = prepared!.vectors!;
    expect(inWorker.length).toBeGreaterThan(0);
    const expected = await mainThread.embedDocuments(prepared!.searchTexts);
    expect(inWorker.map((v) => [...v])).toEqual(expected.map((v) => [...v]));
    const fromFile = await loadLocalEmbedder(file).embedDocuments(prepared!.searchTexts);
    expect(inWorker.map((v) => [...v])).not.toEqual(fromFile.map((v) => [...v]));
  } finally {
    await preparer.close();
  }
});
