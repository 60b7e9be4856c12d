/**
 * `keel/index/refresh` takes paths from any client: only notes inside the workspace that the index
 * holds may be named. Paths that climb out, are absolute, are spelled with `.`/empty parts,
 * backslashes or NUL, or point into hidden folders are refused without reading anything, and a
 * note that is a symlink to a file outside the workspace is never read through the link.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

it('refuses paths outside the notes the index holds, and never reads through a symlink', async () => {
  const outside = join(dirname(dirs.workspace), 'outside.md');
  await writeFile(outside, '# Secret\n\nThe payroll password is outsidesecretzq.\n');
  await mkdir(join(dirs.workspace, '.keel', 'x'), { recursive: true });
  await writeFile(join(dirs.workspace, '.keel', 'x', 'hidden.md'), '# Hidden\n\nhiddensecretzq\n');
  const refused = [
    '../outside.md',
    outside,
    'memory/../../outside.md',
    'memory/./note.md',
    'memory//note.md',
    'memory\\..\\..\\outside.md',
    'memory/note.md\u0000.md',
    '.keel/x/hidden.md',
    'keel.yaml',
  ];
  for (const path of refused) {
    await expect(client!.request(IndexRefreshRequest, { paths: [path] }), path).rejects.toThrow(
      /is not a file memory indexes/,
    );
  }

  await symlink(outside, join(dirs.workspace, 'memory', 'linked.md'));
  await client!.request(IndexRefreshRequest, { paths: ['memory/linked.md'] });
  for (const word of ['outsidesecretzq', 'hiddensecretzq']) {
    const answer = await client!.request(MemorySearchRequest, { query: word, k: 10, mode: 'text' });
    expect(answer.results.filter((r) => r.text.includes(word))).toEqual([]);
  }
});
