/**
 * `kill -9` of the daemon while it applies an approved change: a real daemon process, a real git
 * repository, the kill a random moment after the approval is sent. After each restart the file
 * holds either the old or the new content (never a torn mix), no temporary file is left in the
 * work tree, and once the decision is carried out there is exactly one commit for it.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApprovalApproveRequest, ApprovalGetRequest, RunGetRequest, RunStartRequest } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { writeNote } from '../helpers/memory';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const ROUNDS = 10;
const NOTE = 'memory/notes/counter.md';

let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

const git = (...args: string[]): string =>
  execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });

beforeAll(async () => {
  dirs = await makeTempDirs();
  await initWorkspace(dirs.workspace);
  await writeNote(dirs.workspace, NOTE, 'round 0\n');
  await writeNote(
    dirs.workspace,
    'runbooks/bump.yaml',
    `apiVersion: keel/v1
name: bump
role: Test
description: Proposes the next round in a note.
inputs:
  round: { type: integer }
steps:
  - id: write
    type: propose
    path: ${NOTE}
    content: "{% for i in (1..400) %}round {{ inputs.round }} line {{ i }}\\n{% endfor %}"
    summary: "Round {{ inputs.round }}"
`,
  );
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
  git('add', '-A');
  git('commit', '-q', '-m', 'Start');
});
afterAll(async () => {
  daemon?.process.kill('SIGKILL');
  await dirs.cleanup();
});

async function connect(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  // The CLI finds the socket in its per-user runtime directory, never in the lock: be that CLI.
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await waitFor('the daemon to serve', async () => (await WorkspaceLock.holder(dirs.workspace))?.serving);
  return attachToDaemon(dirs.workspace);
}

const expected = (round: number): string =>
  Array.from({ length: 400 }, (_, i) => `round ${round} line ${i + 1}\n`).join('');

it(`applies each approval exactly once through kill -9s during the apply`, { timeout: 240_000 }, async () => {
  let previous = 'round 0\n';
  let killedMidApply = 0;
  expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
  for (let round = 1; round <= ROUNDS; round++) {
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    let client = await connect();
    const started = await client.request(RunStartRequest, { runbook: 'bump', inputs: { round } });
    const waiting = await waitFor('the run to wait for approval', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'waiting_approval' ? run : null;
    });
    const id = waiting.waitingFor!;
    // Approve, and kill the daemon a random moment later: before, during or after the apply.
    void client.request(ApprovalApproveRequest, { id }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
    daemon.process.kill('SIGKILL');
    await daemon.exited;
    void client.close().catch(() => undefined);
    const stored = JSON.parse(
      await readFile(join(dirs.workspace, '.keel/approvals', `${id}.json`), 'utf8'),
    ) as {
      applying: unknown;
      status: string;
    };
    if (stored.applying) killedMidApply++;

    // Whatever the moment, the file is whole: the old content or the new.
    const onDisk = await readFile(join(dirs.workspace, NOTE), 'utf8');
    expect([previous, expected(round)]).toContain(onDisk);
    // No temporary file beside the note: they live in .keel/tmp, outside what git sees.
    expect(git('status', '--porcelain', '--untracked-files=all')).not.toMatch(/^\?\?/m);

    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    client = await connect();
    const { proposal } = await client.request(ApprovalGetRequest, { id });
    if (proposal.status !== 'applied') {
      expect(proposal.status).toBe('pending');
      await client.request(ApprovalApproveRequest, { id });
    }
    const commits = git('log', '--format=%H', '--fixed-strings', `--grep=Keel-Proposal: ${id}`)
      .trim()
      .split('\n');
    expect(commits.filter(Boolean)).toHaveLength(1);
    expect(await readFile(join(dirs.workspace, NOTE), 'utf8')).toBe(expected(round));
    expect(git('status', '--porcelain', '--untracked-files=all').trim()).toBe('');
    await waitFor('the run to end', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' ? run : null;
    });
    await client.close();
    daemon.process.kill('SIGKILL');
    await daemon.exited;
    previous = expected(round);
  }
  // One commit per round, each with its trailers, and nothing else.
  expect(git('rev-list', '--count', 'HEAD').trim()).toBe(String(ROUNDS + 1));
  expect(
    killedMidApply,
    `${killedMidApply} of ${ROUNDS} kills landed between the decision and its commit`,
  ).toBeGreaterThan(0);
});
