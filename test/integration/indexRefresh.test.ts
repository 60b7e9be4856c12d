/**
 * `keel/index/refresh`: a client that has just written notes asks for them, and once the answer
 * arrives a search finds them as they are on disk, with no polling; a note deleted before the
 * refresh is gone from searches once it answers. Also while another writer keeps saving notes from
 * before memory opens: the start-up comparison with the files then waits for what it queued, not
 * for a queue that never empties (it hung, and with it every run's search, until it did).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { IndexRefreshRequest, MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../daemon/src/rpc/socketClient';
import { serveNewWorkspace, stopDaemon, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let daemon: RunningDaemon | null = null;
let client: SocketClient | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  ({ daemon, client } = await serveNewWorkspace(dirs));
});
afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = null;
  await stopDaemon(daemon);
  daemon = null;
  await dirs.cleanup();
});

async function found(word: string): Promise<string[]> {
  const answer = await client!.request(MemorySearchRequest, { query: word, k: 10, mode: 'text' });
  return answer.results.filter((r) => r.text.includes(word)).map((r) => r.path);
}

it('answers once a note just written is searchable, and once a deleted one is gone', async () => {
  await mkdir(join(dirs.workspace, 'memory', 'fresh'), { recursive: true });
  for (let i = 0; i < 5; i++) {
    const path = `memory/fresh/note-${i}.md`;
    const word = `refreshword${i}x`;
    await writeFile(join(dirs.workspace, path), `# Note ${i}\n\nWe agreed on ${word} today.\n`);
    const answer = await client!.request(IndexRefreshRequest, { paths: [path] });
    expect(answer.paths).toBe(1);
    expect(await found(word)).toEqual([path]);
  }

  await rm(join(dirs.workspace, 'memory/fresh/note-0.md'));
  await client!.request(IndexRefreshRequest, { paths: ['memory/fresh/note-0.md'] });
  expect(await found('refreshword0x')).toEqual([]);
});

it('a refreshed note is found at once while another writer keeps saving', async () => {
  await mkdir(join(dirs.workspace, 'memory', 'busy'), { recursive: true });
  let writing = true;
  let saves = 0;
  const writer = (async () => {
    while (writing) {
      const i = saves++;
      await writeFile(join(dirs.workspace, 'memory', 'busy', `b${i % 40}.md`), `# Busy\n\nsave ${i}\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 10; i++) {
      const path = `memory/busy/mine-${i}.md`;
      await writeFile(join(dirs.workspace, path), `# Mine\n\nThe clause mentions busyword${i}zq.\n`);
      await client!.request(IndexRefreshRequest, { paths: [path] });
      expect(await found(`busyword${i}zq`)).toEqual([path]);
    }
  } finally {
    writing = false;
    await writer;
  }
  expect(saves).toBeGreaterThan(20);
});
