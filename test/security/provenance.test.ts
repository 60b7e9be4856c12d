/**
 * `keel why` and the stale-runs list cannot be pointed outside the workspace or through a link, and
 * what they show of a hostile workspace (note paths with control characters, Markdown or HTML in
 * them) stays plain text. Real daemon, real file system; the CLI as the operator runs it.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryWhyRequest, StaleRunsRequest, type StaleRun } from '@keel/schemas';
import { describeWhy } from '../../daemon/src/cli/commands/why';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { staleRunRows } from '../../extension/src/provenance/provenanceModel';
import { writeNote } from '../helpers/memory';
import { runKeel } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'aws_secret_access_key = KEEL-WHY-SECRET-51c2';
let dirs: TempDirs;
let outside: string;
let daemon: Daemon | null = null;
let client: InProcessClient;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  outside = join(dirs.workspace, '..', 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.md'), SECRET);
  await initWorkspace(dirs.workspace);
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
  await writeNote(dirs.workspace, 'memory/notes/readme.md', '# Notes\n');
  await symlink(join(outside, 'secret.md'), join(dirs.workspace, 'memory', 'creds.md'));
  await symlink(outside, join(dirs.workspace, 'memory', 'linked'));
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await dirs.cleanup();
});

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

describe('keel why', () => {
  it('refuses paths outside the workspace and notes reached through a link', async () => {
    await start();
    for (const [path, reason] of [
      ['../../etc/passwd', /outside the workspace/],
      ['/etc/passwd', /not a path relative to the workspace/],
      ['memory/../../outside/secret.md', /outside the workspace/],
      ['.git/config', /\.git/],
      ['memory/creds.md', /link/],
      ['memory/linked/secret.md', /link/],
    ] as const) {
      const refused = client.request(MemoryWhyRequest, { path });
      await expect(refused, path).rejects.toThrow(reason);
      await expect(refused).rejects.not.toThrow(/KEEL-WHY-SECRET/);
    }
    // The notes of the workspace answer, used by no run yet; and a linked note never counts as stale.
    expect(await client.request(MemoryWhyRequest, { path: 'memory/notes/readme.md' })).toMatchObject({
      runs: [],
      changes: [],
    });
    expect((await client.request(StaleRunsRequest)).runs).toEqual([]);
  });

  it('refuses them from the command line too, printing nothing of the file', async () => {
    for (const path of ['../../etc/passwd', 'memory/creds.md']) {
      const result = await runKeel(['why', path], { cwd: dirs.workspace, runtime: dirs.runtime });
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.stderr).toMatch(/Keel refuses/);
      expect(result.stdout + result.stderr).not.toMatch(/root:|KEEL-WHY-SECRET/);
    }
  });
});

describe('what provenance shows of a hostile workspace', () => {
  const HOSTILE =
    'memory/\u001b[31mred\u001b[0m\n[click](command:keel.rerunRun) <img src=x onerror=alert(1)>\u202e.md';

  it('is plain text on the dashboard: no control character, Markdown and HTML kept as written', () => {
    const run: StaleRun = {
      runId: 'r1',
      runbook: 'brief',
      status: 'succeeded',
      startedAt: '2026-12-01T09:00:00.000Z',
      notes: [{ path: HOSTILE, blob: 'a'.repeat(40), currentBlob: 'b'.repeat(40) }],
    };
    const [row] = staleRunRows([run], (iso) => iso);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(row!.detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    // The dashboard sets it as textContent: the link and the tag are shown, never followed or run.
    expect(row!.detail).toContain('[click](command:keel.rerunRun) <img src=x onerror=alert(1)>');
  });

  it('is plain text on the terminal: no escape sequence reaches it', () => {
    const text = describeWhy({
      path: HOSTILE,
      blob: null,
      runs: [],
      changes: [
        {
          proposalId: 'p-1',
          runId: 'r1',
          runbook: 'brief',
          summary: 'Brief \u001b]52;c;cm0gLXJmIH4=\u0007',
          status: 'applied',
          commit: 'c'.repeat(40),
          relation: 'changed',
        },
      ],
    });
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u0007');
    expect(text.split('\n')[0]).toContain('red');
  });
});
