/**
 * Memory as of a date reads notes out of git history, which anyone who could commit wrote: a
 * committed symlink is not followed, a huge blob is never read, a path never leaves the workspace,
 * the cache never lands outside `.keel/`, and an "as of" value shaped like an option or a shell
 * command never reaches git as one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemorySearchAsOfRequest } from '@keel/schemas';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { PARSE_LIMITS } from '../../daemon/src/memory/parse/index';
import { contained } from '../../daemon/src/workspace/gitHistory';
import { openMemory, writeNote } from '../helpers/memory';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let memory: MemoryService | null = null;

function commitAll(root: string): void {
  const at = '2026-01-10T12:00:00Z';
  const env = { ...process.env, GIT_COMMITTER_DATE: at, GIT_AUTHOR_DATE: at };
  execFileSync('git', ['init', '-q'], { cwd: root });
  execFileSync('git', ['add', '-A'], { cwd: root, env });
  execFileSync('git', ['-c', 'user.name=M', '-c', 'user.email=m@x', 'commit', '-q', '-m', 'notes'], {
    cwd: root,
    env,
  });
}

beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await memory?.close();
  memory = null;
  await dirs.cleanup();
});

describe('memory as of a date, against hostile history', () => {
  it('skips a committed symlink and never reads what it points at', async () => {
    const root = dirs.workspace;
    const secret = join(dirs.workspace, '..', 'secret.md');
    await writeFile(secret, '# Secret\n\nThe vault code is zanzibar-4411.\n');
    await writeNote(root, 'memory/ok.md', '# Ok\n\nAn ordinary note about zanzibar trips.\n');
    await symlink(secret, join(root, 'memory/link.md'));
    commitAll(root);
    memory = await openMemory(root);
    const { results, snapshot } = await memory.searchAsOf({
      query: 'zanzibar vault code',
      k: 10,
      asOf: '2026-01-10',
    });
    expect(snapshot.skipped).toContain('memory/link.md: a symbolic link, never followed');
    expect(snapshot.documents).toBe(1);
    expect(results.map((r) => r.path)).toEqual(['memory/ok.md']);
    expect(JSON.stringify(results)).not.toContain('4411');
  });

  it('caps a blob larger than a note may be: never read, reported', async () => {
    const root = dirs.workspace;
    const huge = `# Huge\n\n${'marmalade '.repeat(Math.ceil((PARSE_LIMITS.maxFileBytes + 1024) / 10))}\n`;
    await writeNote(root, 'memory/huge.md', huge);
    await writeNote(root, 'memory/small.md', '# Small\n\nA note on marmalade.\n');
    commitAll(root);
    memory = await openMemory(root);
    const { results, snapshot } = await memory.searchAsOf({ query: 'marmalade', k: 10, asOf: '2026-01-10' });
    expect(snapshot.skipped.join('\n')).toMatch(/^memory\/huge\.md: \d+ bytes, more than the 8388608/);
    expect(results.map((r) => r.path)).toEqual(['memory/small.md']);
  });

  it('refuses option-like and shell-like "as of" values before git sees them', async () => {
    const root = dirs.workspace;
    await writeNote(root, 'memory/ok.md', '# Ok\n\nNote.\n');
    commitAll(root);
    const planted = join(dirs.workspace, '..', 'x');
    const cli = await runKeel(['search', '--as-of', `--output=${planted}`, 'note'], {
      cwd: root,
      runtime: dirs.runtime,
    });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('never starts with "-"');
    const joined = await runKeel(['search', `--as-of=--output=${planted}`, 'note'], {
      cwd: root,
      runtime: dirs.runtime,
    });
    expect(joined.code).not.toBe(0);
    expect(existsSync(planted)).toBe(false);

    for (const asOf of [
      '--output=/tmp/x',
      'HEAD~1',
      'main@{yesterday}',
      '$(touch pwned)',
      '2026-01-10;id',
      '-1',
    ]) {
      expect(MemorySearchAsOfRequest.params.safeParse({ query: 'q', asOf }).success, asOf).toBe(false);
    }
    // Past the protocol (an in-process caller): still refused, and nothing ran.
    memory = await openMemory(root);
    await expect(memory.searchAsOf({ query: 'q', k: 1, asOf: '$(touch pwned)' })).rejects.toThrow(/as of/);
    await expect(memory.searchAsOf({ query: 'q', k: 1, asOf: `--output=${planted}` })).rejects.toThrow(
      /never starts with/,
    );
    expect(existsSync(join(root, 'pwned'))).toBe(false);
    expect(existsSync(planted)).toBe(false);
  });

  it('keeps its cache inside .keel/ when a link is planted there, and paths inside the folder', async () => {
    const root = dirs.workspace;
    await writeNote(root, 'memory/ok.md', '# Ok\n\nA note about herons.\n');
    commitAll(root);
    const outside = join(dirs.workspace, '..', 'elsewhere');
    await mkdir(outside);
    await mkdir(join(root, '.keel', 'cache'), { recursive: true });
    await symlink(outside, join(root, '.keel', 'cache', 'as-of'));
    memory = await openMemory(root);
    const { results } = await memory.searchAsOf({ query: 'herons', k: 3, asOf: '2026-01-10' });
    expect(results[0]?.path).toBe('memory/ok.md');
    expect(await readdir(outside)).toEqual([]);

    for (const path of ['../x.md', 'a/../../x.md', '/etc/x.md', 'a//b.md', './a.md', 'a\\..\\b.md']) {
      expect(contained(path), path).toBe(false);
    }
    expect(contained('memory/customers/acme.md')).toBe(true);
  });
});
