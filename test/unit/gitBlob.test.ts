/**
 * git's blob id computed in the process is the id git itself gives the same bytes: provenance
 * records it for every note a run reads, and `git log --find-object` must find it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitBlobId } from '../../daemon/src/files/gitBlob';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keel-blob-'));
  execFileSync('git', ['init', '-q'], { cwd: dir });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const CASES: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  note: Buffer.from('---\ntype: customer\n---\n# Acme\n\nRenews in March.\n'),
  unicode: Buffer.from('# Café ✓ 日本\n'),
  'CRLF line ends': Buffer.from('one\r\ntwo\r\n'),
  'bytes that are not UTF-8, with a NUL': Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]),
  large: Buffer.alloc(300_000, 'abc\n'),
};

describe('gitBlobId', () => {
  for (const [name, content] of Object.entries(CASES)) {
    it(`matches git hash-object for ${name}`, async () => {
      const file = join(dir, 'note.md');
      await writeFile(file, content);
      const byGit = execFileSync('git', ['hash-object', '--no-filters', file], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(gitBlobId(content)).toBe(byGit.trim());
    });
  }
});
