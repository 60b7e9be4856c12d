/**
 * The index writer reads a batch's files in its own thread, without promises (indexBatch.ts): a
 * workspace from elsewhere must still get nothing read through a link (a note or a folder on the
 * way), no FIFO that would block the daemon, nothing past the size limit, and every other file
 * read whole, its text and its git blob id exactly those of its bytes. Real stores, real git.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import { PARSE_LIMITS } from '../../daemon/src/memory/parse/index';
import { closeBoth, type Stores } from '../../daemon/src/memory/store/stores';
import { indexFiles } from '../helpers/memory';

let dir: string;
let stores: Stores | null = null;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'keel-index-reads-')));
});
afterEach(async () => {
  if (stores) await closeBoth(stores);
  stores = null;
  await rm(dir, { recursive: true, force: true });
});

it('reads notes whole and exact, and never through a link, a FIFO or past the size limit', async () => {
  const root = join(dir, 'ws');
  const outside = join(dir, 'outside');
  await mkdir(join(root, 'memory'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.md'), '# Secret\n\nAKIAOUTSIDE credentials\n');
  // Larger than the reader's first buffer (64 KB), characters of two to four bytes across its edges.
  const long = `# Long\n\n${'café naïve ☕ 𝄞 ledger '.repeat(4_000)}\n\nquinceterminus\n`;
  await writeFile(join(root, 'memory/long.md'), long);
  await writeFile(join(root, 'memory/plain.md'), '# Plain\n\nmarmalade invoices\n');
  await writeFile(join(root, 'memory/huge.md'), `# Huge\n\n${'x'.repeat(PARSE_LIMITS.maxFileBytes)}\n`);
  await symlink(join(outside, 'secret.md'), join(root, 'memory/creds.md'));
  await symlink(outside, join(root, 'memory/linked'));
  execFileSync('mkfifo', [join(root, 'memory/pipe.md')]);
  const paths = ['memory/long.md', 'memory/plain.md', 'memory/huge.md', 'memory/creds.md'];
  paths.push('memory/linked/secret.md', 'memory/pipe.md');

  ({ stores } = await indexFiles(root, join(dir, 'state'), paths, createLogger({ level: 'warn' })));

  const states = await stores.catalog.fileStates();
  expect([...states.keys()].sort()).toEqual(['memory/huge.md', 'memory/long.md', 'memory/plain.md']);
  for (const path of ['memory/long.md', 'memory/plain.md']) {
    const blob = execFileSync('git', ['hash-object', join(root, path)], { encoding: 'utf8' }).trim();
    expect(states.get(path)?.blob, path).toBe(blob);
  }
  // Too large: known by its size, never read, named with the limit.
  expect(states.get('memory/huge.md')?.size).toBeGreaterThan(PARSE_LIMITS.maxFileBytes);
  const problems = await stores.catalog.problems();
  expect(problems.find((p) => p.path === 'memory/huge.md')?.message).toMatch(/over Keel's limit/);

  const chunks = await stores.chunkIndex.chunksAt(paths, null);
  expect(new Set(chunks.map((c) => c.path))).toEqual(new Set(['memory/long.md', 'memory/plain.md']));
  const longText = chunks.filter((c) => c.path === 'memory/long.md').map((c) => c.text);
  expect(longText.join('\n')).toContain('quinceterminus');
  expect(longText.join('\n')).toContain('café naïve ☕ 𝄞 ledger');
  expect(chunks.some((c) => c.text.includes('AKIAOUTSIDE'))).toBe(false);
}, 60_000);
