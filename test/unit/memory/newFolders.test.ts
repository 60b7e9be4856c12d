/**
 * A new folder is watched only once its creation is seen: files created in between raise no event. The
 * watcher reports every new folder so the memory service reads it again, under that folder only.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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

it('walks no link, no hidden or dependency folder, and gives each file its size and time', async () => {
  const outside = await mkdtemp(join(tmpdir(), 'keel-outside-'));
  try {
    await writeFile(join(outside, 'secret.md'), '# Secret\n');
    await mkdir(join(root, 'memory/notes'), { recursive: true });
    await mkdir(join(root, '.keel/state'), { recursive: true });
    await mkdir(join(root, 'node_modules/pkg'), { recursive: true });
    await writeFile(join(root, 'memory/notes/a.md'), '# A, twelve\n');
    await writeFile(join(root, 'keel.yaml'), 'version: 1\n');
    await writeFile(join(root, 'runbook.yaml'), 'name: r\n');
    await writeFile(join(root, '.keel/state/x.md'), '# X\n');
    await writeFile(join(root, 'node_modules/pkg/readme.md'), '# R\n');
    await symlink(join(outside, 'secret.md'), join(root, 'memory/creds.md'));
    await symlink(outside, join(root, 'memory/linked'));
    const found = await walkWorkspace(root);
    expect([...found.keys()].sort()).toEqual(['memory/notes/a.md', 'runbook.yaml']);
    expect(found.get('memory/notes/a.md')?.size).toBe(12);
    expect(found.get('memory/notes/a.md')?.mtimeMs).toBeGreaterThan(0);
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
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
