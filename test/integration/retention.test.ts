/**
 * Working memory that expires, in a real daemon (in this process) with real git: a note a run
 * wrote is stamped, expires, and becomes ONE proposal for the day that moves it to the archive;
 * approving commits the move with Keel's trailers and the note stays searchable with the archive
 * path filter only. The job runs once per day, also over restarts, and never proposes a note
 * twice; a note the operator wrote makes the day's proposal wait for the operator.
 */
import { execFileSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  MemorySearchRequest,
  RunGetRequest,
  RunStartRequest,
} from '@keel/schemas';
import type { Clock } from '../../daemon/src/conductor/triggerSchedule';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const DAY = 24 * 3_600_000;
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });
}

/** A daemon whose clock is `offsetDays` ahead; resolves once its expiry job ran for that day. */
async function start(offsetDays = 0): Promise<void> {
  const clock: Clock = { now: () => Date.now() + offsetDays * DAY };
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
    clock,
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
  const job = await waitFor('the expiry job', () => daemon!.conductor.expiryJob());
  await job.runDue();
}

async function stop(): Promise<void> {
  await daemon?.stop('test');
  daemon = null;
}

async function proposals(): Promise<
  { id: string; status: string; reasoning: string; changes: { path: string }[] }[]
> {
  return (await client.request(ApprovalsListRequest, {})).approvals;
}

/** Runs the `keeper` runbook, which writes a working note (applied by the default rule). */
async function keeperRun(): Promise<string> {
  const run = await client.request(RunStartRequest, { runbook: 'keeper', inputs: {} });
  await waitFor('the keeper run', async () => {
    const got = await client.request(RunGetRequest, { id: run.id });
    return got.run.status === 'succeeded' ? got : null;
  });
  return run.id;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
  await writeNote(
    dirs.workspace,
    'runbooks/keeper.yaml',
    `apiVersion: keel/v1
name: keeper
role: Assistant
description: Keeps a meeting brief in working memory.
steps:
  - id: brief
    type: propose
    path: memory/working/brief.md
    content: "# Brief\\n\\nAcme asked about the zebracorn renewal.\\n"
    summary: Meeting brief
    reasoning: For tomorrow's call.
`,
  );
  git('add', '-A');
  git('-c', 'user.name=Maya', '-c', 'user.email=maya@example.com', 'commit', '-q', '-m', 'Start');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
});
afterEach(async () => {
  await stop();
  await dirs.cleanup();
});

describe('working memory expiry', () => {
  it('stamps a run note, proposes its archive move once per day, and keeps it searchable in the archive', async () => {
    await start();
    const runId = await keeperRun();
    const written = await readFile(join(dirs.workspace, 'memory/working/brief.md'), 'utf8');
    expect(written).toMatch(/^---\ncreated: \S+\nexpires: \S+\nsource: \{"run":"[^"]+"\}\n---\n# Brief/);
    expect(written).toContain(runId);
    expect(await proposals()).toHaveLength(1); // the run's own, applied by policy
    await stop();

    // 31 days later: one proposal, waiting (archive/ is not a path the default rules allow).
    await start(31);
    const day = daemon!.conductor.expiryJob()!.lastRunDay!;
    const expiry = (await proposals()).find((p) => p.id === `retention-${day}`)!;
    expect(expiry.status).toBe('pending');
    expect(expiry.changes.map((c) => c.path).sort()).toEqual([
      'memory/archive/working/brief.md',
      'memory/working/brief.md',
    ]);
    await stop();

    // A restart the same day proposes nothing more; the next day does not propose the waiting note again.
    await start(31);
    expect(await proposals()).toHaveLength(2);
    await stop();
    await start(32);
    expect(daemon!.conductor.expiryJob()!.lastRunDay).not.toBe(day);
    expect(await proposals()).toHaveLength(2);

    await client.request(ApprovalApproveRequest, { id: expiry.id });
    await expect(stat(join(dirs.workspace, 'memory/working/brief.md'))).rejects.toThrow();
    expect(await readFile(join(dirs.workspace, 'memory/archive/working/brief.md'), 'utf8')).toBe(written);
    const log = git('log', '-1', '--format=%B');
    expect(log).toContain(`Keel-Proposal: retention-${day}`);
    expect(log).toContain('Keel-Decision: approved');
    expect(git('status', '--porcelain', '--', 'memory')).toBe('');

    const archived = await waitFor('the archived note in search', async () => {
      const { results } = await client.request(MemorySearchRequest, {
        query: 'zebracorn renewal',
        k: 5,
        filter: { path: 'memory/archive/**' },
      });
      return results.length > 0 ? results : null;
    });
    expect(archived[0]!.path).toBe('memory/archive/working/brief.md');
    const plain = await client.request(MemorySearchRequest, { query: 'zebracorn renewal', k: 5 });
    expect(plain.results.map((r) => r.path)).not.toContain('memory/archive/working/brief.md');
  }, 60_000);

  it('lets a rule delete what Keel wrote, but asks when a note is the operator’s', async () => {
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      `version: 1
memory:
  retention: [{ path: "memory/working/**", after: 7d, then: delete }]
approvals:
  rules: [{ path: "memory/working/**", allow: [create, delete] }]
`,
    );
    git('commit', '-qam', 'Delete working memory after a week');
    await start();
    await keeperRun();
    await stop();

    await start(8);
    const day = daemon!.conductor.expiryJob()!.lastRunDay!;
    const applied = (await proposals()).find((p) => p.id === `retention-${day}`)!;
    expect(applied.status).toBe('applied');
    await expect(stat(join(dirs.workspace, 'memory/working/brief.md'))).rejects.toThrow();
    await stop();

    await keeperRunAfter(9);
    await writeNote(
      dirs.workspace,
      'memory/working/mine.md',
      '---\nexpires: 2020-01-01\n---\n# My own list\n',
    );
    git('add', '-A');
    git('commit', '-qm', 'My list');
    await stop();
    await start(20);
    const next = daemon!.conductor.expiryJob()!.lastRunDay!;
    const asked = (await proposals()).find((p) => p.id === `retention-${next}`)!;
    expect(asked.status).toBe('pending');
    expect(asked.changes.map((c) => c.path).sort()).toEqual([
      'memory/working/brief.md',
      'memory/working/mine.md',
    ]);
    expect(asked.reasoning).toContain('memory/working/mine.md: it says no source');
    expect(await readFile(join(dirs.workspace, 'memory/working/mine.md'), 'utf8')).toContain('My own list');
  }, 60_000);
});

/** Starts a daemon `offsetDays` ahead and runs the keeper again (a fresh brief). */
async function keeperRunAfter(offsetDays: number): Promise<void> {
  await start(offsetDays);
  await keeperRun();
}
