/**
 * The run index's lifecycle, with real LanceDB and the local embedder: closing waits for the
 * comparison with the journals that is under way (which then writes nothing), so the index is
 * never used once closed, and a closed run index starts nothing again. The daemon's memory host,
 * once closed for the daemon's exit, opens neither index again for a late search.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WorkspaceConfig } from '@keel/schemas';
import { createLogger } from '../../daemon/src/log';
import { createLocalEmbedder } from '../../daemon/src/memory/embed/local';
import { MemoryHost } from '../../daemon/src/memory/memoryHost';
import { RunMemory, type RunJournals } from '../../daemon/src/memory/runs/runMemory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await dirs.cleanup();
});

/** Journals whose listing waits for `gate` (a slow disk); `listed` counts the listings. */
function slowJournals(gate: Promise<void>): RunJournals & { listed: number } {
  const journals = {
    listed: 0,
    ids: async () => {
      journals.listed++;
      await gate;
      return ['r-1'];
    },
    has: () => Promise.resolve(true),
    read: () => Promise.reject(new Error('no run is read in this test')),
  };
  return journals;
}

it('close waits for the comparison under way, and nothing starts again after it', async () => {
  const warnings: string[] = [];
  const log = createLogger({ level: 'warn', write: (line) => warnings.push(line) });
  const runs = await RunMemory.open(dirs.workspace, await createLocalEmbedder(), log);
  let release!: () => void;
  const journals = slowJournals(new Promise<void>((resolve) => (release = resolve)));
  runs.use(journals);
  expect(journals.listed).toBe(1);

  let closed = false;
  const closing = runs.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(closed).toBe(false);
  release();
  await closing;
  // The comparison saw the close and stopped: it never reached the closed index.
  expect(warnings).toEqual([]);

  const later = slowJournals(Promise.resolve());
  runs.use(later);
  runs.ended('r-2');
  await runs.idle();
  expect(later.listed).toBe(0);
});

it('a search that arrives after the daemon closed its memory opens nothing again', async () => {
  const log = createLogger({ level: 'error', write: () => undefined });
  const host = new MemoryHost({ root: dirs.workspace, log, mode: 'daemon', onStatus: () => undefined });
  await host.configure('valid', WorkspaceConfig.parse({ version: 1 }));
  await host.get();
  await host.close();
  // Before the close was final, the late search reopened the index (and its watcher) for good.
  await expect(host.search({ query: 'anything', k: 3 })).rejects.toThrow(/stopping/);
  await expect(host.search({ query: 'anything', k: 3, filter: { kind: 'run' } })).rejects.toThrow(/stopping/);
  await host.configure('valid', WorkspaceConfig.parse({ version: 1, memory: { maxAgeDays: 30 } }));
  await expect(host.get()).rejects.toThrow(/stopping/);
});
