/**
 * Steady saves under searches: notes saved every 100 ms, while more clients search than the daemon
 * lets into LanceDB at once, are each searchable within a second and a half, and they reach
 * LanceDB in fewer writes than saves (each write is a fragment that every search scans until the
 * next optimization).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { openMemory, writeCompany, writeNote } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SAVES = 12;
const SAVE_EVERY_MS = 100;
const SEARCHABLE_WITHIN_MS = 1_500;

let dirs: TempDirs;
let memory: MemoryService | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await memory?.close();
  memory = null;
  await dirs.cleanup();
});

async function versions(root: string): Promise<number> {
  const db = await lancedb.connect(join(root, '.keel', 'lance'));
  const table = await db.openTable('chunks');
  try {
    return await table.version();
  } finally {
    table.close();
    db.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

it('under searches, indexes steady saves together, each searchable within 1.5 s', async () => {
  const root = dirs.workspace;
  await writeCompany(root);
  memory = await openMemory(root, { watch: true });
  memory.start();
  await memory.current();
  // The inbox folder exists before the saves, so each save is seen by its own event.
  await writeNote(root, 'memory/inbox/first.md', '# First\n\nThe inbox.\n');
  // The full-text index is built once the first load is written (in the background).
  const ready = performance.now() + 10_000;
  while ((await memory.search({ query: 'inbox', k: 5 }, 'text')).length === 0) {
    if (performance.now() > ready) throw new Error('no full-text index after 10 s');
    await sleep(50);
  }
  const before = await versions(root);

  // More searchers than turns (one per core, memoryService.ts), so some always wait.
  let searching = true;
  const searchers = Array.from({ length: availableParallelism() * 2 + 2 }, async () => {
    while (searching) await memory!.search({ query: 'renewal pricing in Rotterdam', k: 10 });
  });
  const saved = new Map<string, number>();
  const latencies: number[] = [];
  const writing = (async () => {
    for (let i = 0; i < SAVES; i++) {
      const word = `steadysave${i}x${Date.now().toString(36)}`;
      saved.set(word, performance.now());
      await writeNote(
        root,
        `memory/inbox/steady-${i}.md`,
        `# Steady ${i}\n\nWe talked about ${word} today.\n`,
      );
      await sleep(SAVE_EVERY_MS);
    }
  })();
  const deadline = performance.now() + SAVES * SAVE_EVERY_MS + 5_000;
  while (latencies.length < SAVES && performance.now() < deadline) {
    const words = [...saved.keys()];
    if (words.length > 0) {
      const results = await memory.search({ query: words.join(' '), k: 50 }, 'text');
      for (const word of words) {
        if (results.some((r) => r.text.includes(word))) {
          latencies.push(performance.now() - saved.get(word)!);
          saved.delete(word);
        }
      }
    }
    await sleep(10);
  }
  await writing;
  searching = false;
  await Promise.all(searchers);

  expect(latencies).toHaveLength(SAVES);
  expect(Math.max(...latencies)).toBeLessThan(SEARCHABLE_WITHIN_MS);
  // One write per save would add SAVES versions or more (a new note's delete finds nothing).
  const added = (await versions(root)) - before;
  expect(added).toBeLessThan(SAVES);
}, 30_000);
