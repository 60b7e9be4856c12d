/**
 * `keel gc` on a real daemon (in this process) and the real CLI: a dry run lists the journals of
 * runs finished past `retention.keel.runs` and the proposals decided past `.proposals`, with sizes,
 * and frees nothing; `--apply` frees them, and the runs still list (also after a restart, from the
 * run store) with `keel report` figures unchanged. An unreferenced cassette is listed, never deleted.
 */
import { execFileSync } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalsListRequest,
  GcRequest,
  MetricsReportRequest,
  RunGetRequest,
  RunsListRequest,
  RunStartRequest,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const DAY = 24 * 3_600_000;
const REPORT = { since: '2000-01-01', until: '2100-01-01' };
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

async function start(offsetDays = 0): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
    clock: { now: () => Date.now() + offsetDays * DAY },
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

async function stop(): Promise<void> {
  await daemon?.stop('test');
  daemon = null;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  // Working memory that never expires in this test: only gc frees anything.
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    'version: 1\nmemory:\n  retention: [{ path: "memory/working/**", after: 9999w, then: archive }]\n' +
      'retention:\n  keel: { runs: 30d, proposals: 30d }\n',
  );
  await writeNote(
    dirs.workspace,
    'runbooks/keeper.yaml',
    `apiVersion: keel/v1
name: keeper
role: Assistant
description: Keeps a note in working memory.
inputs:
  name: { type: string }
steps:
  - id: note
    type: propose
    path: "memory/working/{{ inputs.name }}.md"
    content: "# Note\\n"
    summary: A note
    reasoning: Kept for later.
`,
  );
  await writeNote(dirs.workspace, 'runbooks/tests/cassettes/orphan.json', '{"entries":[]}\n');
  execFileSync('git', ['add', '-A'], { cwd: dirs.workspace });
  execFileSync('git', ['-c', 'user.name=Maya', '-c', 'user.email=m@example.com', 'commit', '-qm', 'Start'], {
    cwd: dirs.workspace,
  });
});
afterEach(async () => {
  await stop();
  await dirs.cleanup();
});

describe('keel gc', () => {
  it('lists, frees, and keeps runs listed and reported', async () => {
    await start();
    const runs: string[] = [];
    for (const name of ['one', 'two']) {
      const run = await client.request(RunStartRequest, { runbook: 'keeper', inputs: { name } });
      await waitFor('the run', async () => {
        const got = await client.request(RunGetRequest, { id: run.id });
        return got.run.status === 'succeeded';
      });
      runs.push(run.id);
    }
    const report = await client.request(MetricsReportRequest, REPORT);
    expect(report.agents[0]!.runs).toBe(2);
    const fresh = await client.request(GcRequest, {});
    expect(fresh.items.filter((i) => i.freeable)).toEqual([]);
    await stop();

    await start(31);
    const dry = await client.request(GcRequest, {});
    expect(dry.applied).toBe(false);
    const journals = dry.items.filter((i) => i.kind === 'journal');
    expect(journals.map((i) => i.id).sort()).toEqual([...runs].sort());
    expect(dry.items.filter((i) => i.kind === 'proposal')).toHaveLength(2);
    expect(dry.items.find((i) => i.kind === 'cassette')).toMatchObject({
      path: 'runbooks/tests/cassettes/orphan.json',
      freeable: false,
    });
    expect(dry.freeableBytes).toBeGreaterThan(0);
    for (const item of dry.items) expect((await stat(join(dirs.workspace, item.path))).size).toBe(item.bytes);

    const applied = await client.request(GcRequest, { apply: true });
    expect(applied.applied).toBe(true);
    for (const item of applied.items.filter((i) => i.freeable)) {
      await expect(stat(join(dirs.workspace, item.path))).rejects.toThrow();
    }
    await stat(join(dirs.workspace, 'runbooks/tests/cassettes/orphan.json'));
    expect((await client.request(ApprovalsListRequest, {})).approvals).toEqual([]);
    expect(await client.request(MetricsReportRequest, REPORT)).toEqual(report);
    await stop();

    // After a restart the runs list from the run store, and the figures are the same.
    await start(31);
    const listed = (await client.request(RunsListRequest, { limit: 10 })).runs;
    expect(listed.map((r) => r.id).sort()).toEqual([...runs].sort());
    expect(listed.every((r) => r.status === 'succeeded')).toBe(true);
    await expect(client.request(RunGetRequest, { id: runs[0]! })).rejects.toThrow(/"keel gc" freed it/);
    expect(await client.request(MetricsReportRequest, REPORT)).toEqual(report);
    expect((await client.request(GcRequest, {})).items.filter((i) => i.freeable)).toEqual([]);
    await stop();

    const cli = await runKeel(['gc'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('runbooks/tests/cassettes/orphan.json');
    expect(cli.stdout).toContain('Would free 0 B.');
  }, 90_000);
});
