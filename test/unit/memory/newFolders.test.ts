/**
 * A new folder is watched only once its creation is seen: files created in between raise no event. The
 * watcher reports every new folder so the memory service reads it again, under that folder only.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../../daemon/src/log';
import { walkWorkspace } from '../../../daemon/src/memory/files';
import { WorkspaceWatcher } from '../../../daemon/src/memory/watcher';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-folders-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

it('walks only the folder it is given, workspace-relative', async () => {
  await mkdir(join(root, 'memory/full/deeper'), { recursive: true });
  await writeFile(join(root, 'memory/top.md'), '# Top\n');
  await writeFile(join(root, 'memory/full/a.md'), '# A\n');
  await writeFile(join(root, 'memory/full/deeper/b.md'), '# B\n');
  await writeFile(join(root, 'memory/full/skip.bin'), 'x');
  const found = await walkWorkspace(root, 'memory/full');
  expect([...found.keys()].sort()).toEqual(['memory/full/a.md', 'memory/full/deeper/b.md']);
  expect((await walkWorkspace(root)).has('memory/top.md')).toBe(true);
});

it('reports a folder that appears, workspace-relative', async () => {
  const added: string[] = [];
  const watcher = await WorkspaceWatcher.start(
    root,
    { changed: () => undefined, folderRemoved: () => undefined, folderAdded: (f) => added.push(f) },
    createLogger({ write: () => undefined }),
  );
  try {
    await mkdir(join(root, 'memory/new'), { recursive: true });
    const deadline = Date.now() + 5_000;
    while (!added.includes('memory/new') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(added).toContain('memory/new');
  } finally {
    await watcher.close();
  }
});
