/**
 * The one resolver of workspace paths: words first (relative, inside, never `.git/`), then the
 * file system walked without following a link, hard-linked files never written, and writes
 * staged in `.keel/tmp/` so nothing is left beside the target.
 */
import { link, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clearKeelTemp,
  isKeelState,
  keelDir,
  readInsideText,
  removeInside,
  resolveInside,
  resolveInsideSync,
  stageWrite,
  workspaceRelative,
  WorkspacePathError,
  writeInside,
} from '../../daemon/src/files/workspacePaths';

let root: string;
let workspace: string;
let outside: string;

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'keel-paths-')));
  workspace = join(root, 'ws');
  outside = join(root, 'outside');
  await mkdir(join(workspace, 'memory'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'SECRET');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('words', () => {
  it('refuses absolute paths, "..", .git/ at any depth and pathspec magic, with the path and the fix', () => {
    for (const path of ['/etc/passwd', '../x', 'a/../../x', '.git/config', 'lib/.GIT/hooks/x', ':/', '.']) {
      expect(() => workspaceRelative(path), path).toThrow(WorkspacePathError);
    }
    expect(() => workspaceRelative('../x')).toThrow(
      /"\.\.\/x": it points outside the workspace\. Use a path/,
    );
    expect(workspaceRelative('./memory\\a.md')).toBe('memory/a.md');
    expect(isKeelState('.Keel/approvals/x.json')).toBe(true);
    expect(isKeelState('memory/.keel')).toBe(false);
  });
});

describe('the file system', () => {
  it('reads a regular file, and null for a missing one or a missing folder', async () => {
    await writeFile(join(workspace, 'memory/a.md'), 'A');
    expect(await readInsideText(workspace, 'memory/a.md')).toBe('A');
    expect(await readInsideText(workspace, 'memory/none.md')).toBeNull();
    expect(await readInsideText(workspace, 'nothing/here.md')).toBeNull();
  });

  it('never reads through a linked file or a linked folder anywhere on the way', async () => {
    await symlink(join(outside, 'secret.txt'), join(workspace, 'memory/creds.md'));
    await mkdir(join(workspace, 'memory/deep'));
    await symlink(outside, join(workspace, 'memory/deep/linked'));
    await expect(readInsideText(workspace, 'memory/creds.md')).rejects.toThrow(
      /"memory\/creds\.md": memory\/creds\.md is a symbolic link.*Replace memory\/creds\.md with a real file/,
    );
    await expect(readInsideText(workspace, 'memory/deep/linked/secret.txt')).rejects.toThrow(
      /memory\/deep\/linked is a symbolic link/,
    );
  });

  it('resolves without promises exactly as with them: links refused, a missing file or folder told apart', async () => {
    await writeFile(join(workspace, 'memory/a.md'), 'A');
    await symlink(join(outside, 'secret.txt'), join(workspace, 'memory/creds.md'));
    await symlink(outside, join(workspace, 'memory/linked'));
    await writeFile(join(workspace, 'memory/file'), 'not a folder');
    for (const path of ['memory/a.md', 'memory/none.md']) {
      expect(resolveInsideSync(workspace, path)).toBe(await resolveInside(workspace, path));
    }
    for (const path of [
      'memory/creds.md',
      'memory/linked/secret.txt',
      'memory/file/x.md',
      'nothing/here.md',
      '../x',
    ]) {
      const sync = (() => {
        try {
          return resolveInsideSync(workspace, path);
        } catch (error) {
          return error as Error;
        }
      })();
      const async = await resolveInside(workspace, path).catch((error: Error) => error);
      expect(sync, path).toBeInstanceOf(Error);
      expect((sync as Error).message, path).toBe((async as Error).message);
    }
  });

  it('checks a folder once in a stretch of reads, and never keeps a linked one as checked', async () => {
    await mkdir(join(workspace, 'memory/deep'));
    await writeFile(join(workspace, 'memory/deep/a.md'), 'A');
    await symlink(outside, join(workspace, 'memory/linked'));
    const folders = new Set<string>();
    expect(resolveInsideSync(workspace, 'memory/deep/a.md', folders)).toBe(
      join(workspace, 'memory/deep/a.md'),
    );
    const checked = [join(workspace, 'memory'), join(workspace, 'memory/deep')];
    expect([...folders]).toEqual(checked);
    expect(() => resolveInsideSync(workspace, 'memory/linked/secret.txt', folders)).toThrow(
      /memory\/linked is a symbolic link/,
    );
    expect(() => resolveInsideSync(workspace, 'memory/deep/a.md/x.md', folders)).toThrow(/is not a folder/);
    expect([...folders]).toEqual(checked);
    // A folder in the set is not looked at again: the set serves only reads that follow one another.
    const seeded = new Set([join(workspace, 'memory'), join(workspace, 'memory/linked')]);
    expect(resolveInsideSync(workspace, 'memory/linked/secret.txt', seeded)).toBe(
      join(workspace, 'memory/linked/secret.txt'),
    );
  });

  it('never writes through a linked folder, and makes no folder outside', async () => {
    await symlink(outside, join(workspace, 'outbox'));
    await expect(writeInside(workspace, 'outbox/new/x.md', 'X')).rejects.toThrow(WorkspacePathError);
    await expect(resolveInside(workspace, 'outbox/new/x.md', { create: true })).rejects.toThrow(
      /outbox is a symbolic link/,
    );
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });

  it('refuses to write or delete a hard-linked file, or to delete through a link', async () => {
    await link(join(outside, 'secret.txt'), join(workspace, 'memory/shared.md'));
    await expect(writeInside(workspace, 'memory/shared.md', 'X')).rejects.toThrow(/hard-linked/);
    await expect(removeInside(workspace, 'memory/shared.md')).rejects.toThrow(/hard-linked/);
    await symlink(join(outside, 'secret.txt'), join(workspace, 'memory/l.md'));
    await expect(removeInside(workspace, 'memory/l.md')).rejects.toThrow(/symbolic link/);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('SECRET');
  });

  it('writes atomically through .keel/tmp, leaving nothing beside the target', async () => {
    const staged = await stageWrite(workspace, 'memory/x/new.md', 'NEW');
    expect(staged.temp.startsWith(join(workspace, '.keel/tmp/'))).toBe(true);
    expect(await readdir(join(workspace, 'memory/x'))).toEqual([]);
    await writeInside(workspace, 'memory/x/other.md', 'OTHER');
    expect(await readdir(join(workspace, 'memory/x'))).toEqual(['other.md']);
    // A stop between staging and renaming leaves the temporary file in .keel/tmp, cleared at start.
    await clearKeelTemp(workspace);
    expect(await readdir(join(workspace, '.keel/tmp'))).toEqual([]);
  });

  it('refuses a .keel/ that is a link, and never clears what it points at', async () => {
    await mkdir(join(outside, 'tmp'));
    await writeFile(join(outside, 'tmp/keep.txt'), 'KEEP');
    await symlink(outside, join(workspace, '.keel'));
    await expect(keelDir(workspace, 'runs')).rejects.toThrow(
      /"\.keel\/runs": \.keel is a symbolic link.*real \.keel\/ folder/,
    );
    await expect(clearKeelTemp(workspace)).rejects.toThrow(WorkspacePathError);
    expect(await readFile(join(outside, 'tmp/keep.txt'), 'utf8')).toBe('KEEP');
    expect((await readdir(outside)).sort()).toEqual(['secret.txt', 'tmp']);
  });
});
