/**
 * A daemon's worker thread starts, and loads its parser and embedder, before the first save needs
 * it (MemoryService.start warms it once the start-up comparison with the files is done): otherwise
 * the first save after a start waits 250-300 ms for it (`npm run bench`, restart: first save).
 */
import { readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { WorkerPreparer } from '../../daemon/src/memory/prepare';
import { waitFor } from '../helpers/processes';

/** The threads of this process (Linux): a worker thread adds its own. */
const threads = (): number => readdirSync('/proc/self/task').length;

it('starts the worker thread before the first file, and prepares files with it as usual', async () => {
  const preparer = new WorkerPreparer(createLogger({ level: 'error', write: () => undefined }));
  const before = threads();
  let started = before;
  try {
    preparer.warm(true);
    await waitFor('the worker thread', () => threads() > before);
    started = threads();
    const content = '---\ntype: note\n---\n# Call\nThe renewal is due in March.\n';
    const [prepared] = await preparer.prepare([{ path: 'memory/call.md', content }], true);
    expect(prepared!.searchTexts).toHaveLength(1);
    expect(prepared!.vectors).toHaveLength(1);
    // The same thread: the file did not start another (other threads may come and go meanwhile).
    expect(threads()).toBeLessThanOrEqual(started);
    preparer.warm(true); // a thread runs: nothing more
    expect(threads()).toBeLessThanOrEqual(started);
  } finally {
    await preparer.close();
  }
  await waitFor('the worker thread to end', () => threads() < started);
  // Closed: a warm-up starts nothing and fails nothing.
  preparer.warm(true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(threads()).toBeLessThan(started);
});
