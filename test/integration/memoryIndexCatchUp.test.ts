/**
 * A daemon stopped between a fold of the newest writes into the main table and the optimization
 * that brings them into its indexes (both when writes pause) leaves rows the full-text index lacks,
 * which every text search scans again. The next daemon brings them in at the first pause after its
 * start, though it writes nothing. Real stores, real files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import type { Stores } from '../../daemon/src/memory/store/stores';
import { openMemory, writeCompany, writeNote } from '../helpers/memory';

let root: string;
let memory: MemoryService | null = null;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-index-catch-up-'));
});
afterEach(async () => {
  await memory?.close();
  memory = null;
  await rm(root, { recursive: true, force: true });
});

const chunkIndex = (service: MemoryService): Stores['chunkIndex'] =>
  (service as unknown as { stores: Stores }).stores.chunkIndex;

it('indexes at its first pause the rows a daemon stopped before optimizing folded in', async () => {
  await writeCompany(root);
  memory = await openMemory(root);
  await memory.sync();
  await writeNote(
    root,
    'memory/notes/lighthouse.md',
    '# Offsite\n\nThe lighthouse venue is booked for May.\n',
  );
  await memory.refresh(['memory/notes/lighthouse.md']);
  // Writes paused long enough to fold, and the daemon stopped before the optimization after it.
  expect(await chunkIndex(memory).optimize({ full: false })).toBe('folded');
  await memory.close();

  // A daemon's memory: it watches the files and compares them with the index at its start.
  memory = await openMemory(root, { watch: true });
  expect(await chunkIndex(memory).unindexedRows()).toBeGreaterThan(0);
  memory.start();
  const started = Date.now();
  while ((await chunkIndex(memory).unindexedRows()) > 0 && Date.now() - started < 30_000)
    await new Promise((resolve) => setTimeout(resolve, 250));
  expect(await chunkIndex(memory).unindexedRows()).toBe(0);
  const [top] = await memory.search({ query: 'lighthouse venue', k: 1 });
  expect(top?.path).toBe('memory/notes/lighthouse.md');
});
