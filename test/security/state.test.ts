/**
 * State Keel did not write is never acted on: approvals, run journals and trigger slots forged in
 * a cloned workspace, edited by hand, cut short (also after a takeover) or copied from another
 * workspace are quarantined; a forged
 * lock neither points the CLI at a socket or token of its choosing nor keeps the daemon from
 * starting; a symlinked `.keel` is refused. Real daemons, real git, real files and sockets.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunsListRequest } from '@keel/schemas';
import { ProposalStore, type StoredProposal } from '../../daemon/src/approvals/proposalStore';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { Journal } from '../../daemon/src/conductor/journal';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { runRecord as journalRunRecord } from '../helpers/journals';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let outside: string;
let daemon: RunningDaemon | null = null;
let server: ModelServer | null = null;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

beforeEach(async () => {
  dirs = await makeTempDirs('keel-state-');
  outside = join(dirs.workspace, '..', 'outside.txt');
  await writeFile(outside, 'the operator wrote this\n');
});
afterEach(async () => {
  if (daemon && daemon.process.exitCode === null) {
    daemon.process.kill('SIGTERM');
    await daemon.exited;
  }
  daemon = null;
  await server?.close();
  server = null;
  await dirs.cleanup();
});

async function initWorkspace(workspace = dirs.workspace): Promise<void> {
  const result = await runKeel(['init', workspace], { runtime: dirs.runtime });
  expect(result.code, result.stderr).toBe(0);
  await trustWorkspace(workspace);
}

/**
 * The operator trusts the workspace: what is refused below is refused because Keel did not
 * write it, not for want of trust.
 */
async function trustWorkspace(workspace = dirs.workspace): Promise<void> {
  const result = await runKeel(['trust', '--yes'], { cwd: workspace, runtime: dirs.runtime });
  expect(result.code, result.stderr).toBe(0);
}

/** What `.keel/quarantine/` holds: the reasons, keyed by the original file name. */
async function quarantinedNames(workspace = dirs.workspace): Promise<string[]> {
  const names = await readdir(join(workspace, '.keel', 'quarantine')).catch(() => [] as string[]);
  return names.filter((n) => !n.endsWith('.why.txt')).map((n) => n.replace(/^.*?Z-[0-9a-f]{6}-/, ''));
}

function proposal(id: string, path: string, content: string, base: string | null): StoredProposal {
  return {
    id,
    runId: 'run-1',
    stepId: 'draft',
    runbook: 'writer',
    summary: `change ${path}`,
    reasoning: 'because',
    changes: [{ path, action: base === null ? 'create' : 'modify', baseHash: base && sha256(base), content }],
    status: 'pending',
    protected: false,
    createdAt: new Date().toISOString(),
    staleFiles: [],
    decision: null,
    applying: null,
    proposedContents: { [path]: content },
  };
}

async function approvalsListed(): Promise<string> {
  const result = await runKeel(['approvals', '--json'], { cwd: dirs.workspace, runtime: dirs.runtime });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

describe('a stored approval', () => {
  it('forged with `applying` set is never finished: nothing outside the workspace or in .git changes', async () => {
    await initWorkspace();
    const gitConfig = await readFile(join(dirs.workspace, '.git', 'config'), 'utf8');
    const original = await readFile(outside, 'utf8');
    const hook = join(dirs.workspace, '..', 'fsmonitor-ran');
    const forged = {
      ...proposal('forged-1', '../outside.txt', 'overwritten\n', original),
      changes: [
        { path: '../outside.txt', action: 'modify', baseHash: sha256(original), content: 'overwritten\n' },
        { path: '.git/config', action: 'modify', baseHash: sha256(gitConfig), content: 'x' },
      ],
      applying: {
        kind: 'approved',
        contents: {
          '../outside.txt': 'overwritten\n',
          '.git/config': `[core]\n\tfsmonitor = "touch ${hook}"\n`,
        },
        at: new Date().toISOString(),
      },
    };
    await mkdir(join(dirs.workspace, '.keel', 'approvals'), { recursive: true });
    await writeFile(join(dirs.workspace, '.keel', 'approvals', 'forged-1.json'), JSON.stringify(forged));

    const listed = await runKeel(['approvals'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('Nothing waits for approval.');
    expect(listed.stderr).toContain('forged-1.json was not acted on');
    expect(await readFile(outside, 'utf8')).toBe(original);
    expect(await readFile(join(dirs.workspace, '.git', 'config'), 'utf8')).toBe(gitConfig);
    await expect(readFile(hook)).rejects.toThrow(/ENOENT/);
    expect(await quarantinedNames()).toEqual(['forged-1.json']);
    // Reported once: it is out of the way now, and the next command says nothing of it.
    const again = await runKeel(['approvals'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(again.stderr).not.toContain('forged-1.json');
  });

  it('sealed by Keel but edited by hand is quarantined; the untouched one is still listed', async () => {
    await initWorkspace();
    const store = await ProposalStore.open(dirs.workspace, () => undefined);
    await store.save(proposal('kept', 'memory/a.md', 'a\n', null));
    await store.save(proposal('edited', 'memory/b.md', 'b\n', null));
    const file = join(dirs.workspace, '.keel', 'approvals', 'edited.json');
    const record = JSON.parse(await readFile(file, 'utf8')) as StoredProposal;
    record.changes[0]!.path = '../outside.txt';
    record.proposedContents = { '../outside.txt': 'overwritten\n' };
    await writeFile(file, JSON.stringify(record, null, 2));

    const listed = await approvalsListed();
    expect(listed).toContain('"kept"');
    expect(listed).not.toContain('"edited"');
    expect(await quarantinedNames()).toEqual(['edited.json']);
    const why = (await readdir(join(dirs.workspace, '.keel', 'quarantine'))).find((n) =>
      n.endsWith('.why.txt'),
    )!;
    expect(await readFile(join(dirs.workspace, '.keel', 'quarantine', why), 'utf8')).toContain(
      'seal does not match',
    );
    const approve = await runKeel(['approve', 'edited'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(approve.code).not.toBe(0);
    expect(await readFile(outside, 'utf8')).toBe('the operator wrote this\n');
  });

  it('copied from another workspace is quarantined', async () => {
    const other = join(dirs.workspace, '..', 'other');
    await initWorkspace();
    await initWorkspace(other);
    const store = await ProposalStore.open(other, () => undefined);
    await store.save(proposal('elsewhere', 'memory/a.md', 'a\n', null));
    await mkdir(join(dirs.workspace, '.keel', 'approvals'), { recursive: true });
    await cp(
      join(other, '.keel', 'approvals', 'elsewhere.json'),
      join(dirs.workspace, '.keel', 'approvals', 'elsewhere.json'),
    );

    expect(await approvalsListed()).not.toContain('"elsewhere"');
    expect(await quarantinedNames()).toEqual(['elsewhere.json']);
  });
});

const RUNBOOK = `apiVersion: keel/v1
name: hello
role: Operations
description: One model call.
triggers:
  - type: schedule
    cron: "0 0 1 1 *"
steps:
  - id: greet
    type: llm
    prompt: Say hello.
`;

async function modelWorkspace(): Promise<void> {
  await initWorkspace();
  server = await ModelServer.start();
  server.respondWith(() => ({ content: 'hello' }));
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m1 }\n`,
  );
  await writeNote(dirs.workspace, 'runbooks/hello.yaml', RUNBOOK);
  await trustWorkspace();
}

const RUN_ID = '20260101-000000-hello-abcdef';
const runRecord = journalRunRecord(RUN_ID);

/** Starts the daemon and waits until it has read the journals and trigger slots. */
async function startAndSettle(): Promise<void> {
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  const client = await attachToDaemon(dirs.workspace);
  try {
    // Answered once the conductor has loaded (and would have resumed) every journal.
    const { runs } = await client.request(RunsListRequest, {});
    expect(runs).toEqual([]);
  } finally {
    await client.close();
  }
}

describe('a run journal', () => {
  // The control: what the tests below forge would be resumed if Keel had written it.
  it('sealed by Keel and untouched is resumed', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    const path = join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`);
    const journal = await Journal.create(path, runRecord, new StateSeal(dirs.workspace));
    await journal.close();
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    await waitFor('the resumed run to call the model', () => server!.requests.length > 0);
    expect(await quarantinedNames()).toEqual([]);
  });

  it('forged in .keel/runs is not resumed: the model server gets no request', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    await writeFile(
      join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`),
      JSON.stringify(runRecord) + '\n',
    );

    await startAndSettle();
    await waitFor('the journal in quarantine', async () => (await quarantinedNames()).length > 0);
    expect(await quarantinedNames()).toEqual([`${RUN_ID}.jsonl`]);
    expect(daemon!.output()).toContain('was not resumed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
  });

  it('sealed by Keel but with an edited line is not resumed', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    const path = join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`);
    const journal = await Journal.create(path, runRecord, new StateSeal(dirs.workspace));
    await journal.close();
    await writeFile(path, (await readFile(path, 'utf8')).replace('"inputs":{}', '"inputs":{"x":"injected"}'));

    await startAndSettle();
    expect(await quarantinedNames()).toEqual([`${RUN_ID}.jsonl`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
  });

  it('sealed by Keel, ended, then cut short before its end is not resumed', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    const path = join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`);
    const journal = await Journal.create(path, runRecord, new StateSeal(dirs.workspace));
    await journal.append({
      type: 'runEnd',
      status: 'succeeded',
      outputs: {},
      error: null,
      escalation: null,
      at: new Date().toISOString(),
    });
    await journal.close();
    await writeFile(path, (await readFile(path, 'utf8')).split('\n')[0] + '\n');

    await startAndSettle();
    expect(await quarantinedNames()).toEqual([`${RUN_ID}.jsonl`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
  });

  it('taken over, ended again, then cut short after its takeover is not resumed', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    const path = join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`);
    const journal = await Journal.create(path, runRecord, new StateSeal(dirs.workspace));
    const end = { outputs: null, error: null, escalation: null, at: new Date().toISOString() };
    await journal.append({ type: 'runEnd', status: 'failed', ...end });
    await journal.append({
      type: 'takeover',
      fromStep: 'greet',
      steps: ['greet'],
      supplied: false,
      output: null,
      by: 'operator',
      at: new Date().toISOString(),
    });
    await journal.append({ type: 'runEnd', status: 'succeeded', ...end, outputs: {} });
    await journal.close();
    // Every line left still verifies: only the count of ends kept outside the workspace tells.
    await writeFile(path, (await readFile(path, 'utf8')).split('\n').slice(0, 3).join('\n') + '\n');

    await startAndSettle();
    expect(await quarantinedNames()).toEqual([`${RUN_ID}.jsonl`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
  });

  it('sealed by Keel but copied under another run id is not resumed', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    const path = join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`);
    const journal = await Journal.create(path, runRecord, new StateSeal(dirs.workspace));
    await journal.close();
    const copy = RUN_ID.replace('abcdef', '123456');
    await writeFile(join(dirs.workspace, '.keel', 'runs', `${copy}.jsonl`), await readFile(path));
    await writeFile(path, ''); // the original gone (an empty journal is a run never started)

    await startAndSettle();
    expect(await quarantinedNames()).toEqual([`${copy}.jsonl`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
  });
});

describe('trigger slots', () => {
  // The control: sealed slots fire the slot missed since.
  it('sealed by Keel fire the slot missed since', async () => {
    await modelWorkspace();
    await mkdir(join(dirs.workspace, '.keel'), { recursive: true });
    const state = {
      version: 1,
      schedules: { 'hello#0': { cron: '0 0 1 1 *', timezone: 'UTC', lastSlot: '2020-01-01T00:00:00.000Z' } },
    };
    await writeFile(
      join(dirs.workspace, '.keel', 'triggers.json'),
      JSON.stringify(new StateSeal(dirs.workspace).sealObject('triggers', state)),
    );
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    await waitFor('the missed slot to call the model', () => server!.requests.length > 0);
  });

  it('forged in .keel/triggers.json fire nothing', async () => {
    await modelWorkspace();
    // A yearly schedule whose slot "was missed" since 2020: a genuine record would fire it at start-up.
    await mkdir(join(dirs.workspace, '.keel'), { recursive: true });
    await writeFile(
      join(dirs.workspace, '.keel', 'triggers.json'),
      JSON.stringify({
        version: 1,
        schedules: {
          'hello#0': { cron: '0 0 1 1 *', timezone: 'UTC', lastSlot: '2020-01-01T00:00:00.000Z' },
        },
      }),
    );
    await startAndSettle();
    await waitFor('the slots in quarantine', async () =>
      (await quarantinedNames()).includes('triggers.json'),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server!.requests).toHaveLength(0);
    expect(daemon!.output()).not.toContain('a trigger started a run');
  });
});

describe('a forged daemon.lock', () => {
  let attacker: Server;
  let connections = 0;

  beforeEach(async () => {
    connections = 0;
    attacker = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) =>
      attacker.listen(join(dirs.workspace, '..', 'attacker.sock'), resolve),
    );
  });
  afterEach(async () => {
    await new Promise((resolve) => attacker.close(resolve));
  });

  async function forgeLock(): Promise<string> {
    const root = join(dirs.workspace, '..');
    // A FIFO as the "token": a CLI that opened it would block forever, so finishing proves it did not.
    const token = join(root, 'secret-token');
    execFileSync('mkfifo', [token]);
    await mkdir(join(dirs.workspace, '.keel'), { recursive: true });
    await writeFile(
      join(dirs.workspace, '.keel', 'daemon.lock'),
      JSON.stringify({
        pid: 1,
        mode: 'daemon',
        socketPath: join(root, 'attacker.sock'),
        tokenPath: token,
        serving: true,
        startedAt: new Date().toISOString(),
        version: '0.1.0',
      }),
    );
    return token;
  }

  it('makes the CLI read no token and connect nowhere, and does not block the daemon', async () => {
    await initWorkspace();
    const token = await forgeLock();
    const status = await runKeel(['status'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('not running');
    expect(connections).toBe(0);

    await rm(token);
    await forgeLock();
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const attached = await runKeel(['status'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stdout).toContain(`running (pid ${daemon.pid}`);
    expect(connections).toBe(0);
  });
});

describe('the emergency stop', () => {
  it("set by the operator is not lifted by deleting or replacing the workspace's stop file", async () => {
    await modelWorkspace();
    const opts = { cwd: dirs.workspace, runtime: dirs.runtime };
    expect((await runKeel(['stop', '--all', '--reason', 'operator'], opts)).code).toBe(0);
    await rm(join(dirs.workspace, '.keel', 'emergency-stop.json'));
    const run = await runKeel(['run', 'hello'], opts);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('emergency stop');
    expect(server!.requests).toHaveLength(0);
    expect((await runKeel(['resume'], opts)).code).toBe(0);
    expect((await runKeel(['run', 'hello'], opts)).code).toBe(0);
    expect(server!.requests.length).toBeGreaterThan(0);
  });
});

describe('a symlinked .keel', () => {
  it('is refused with a message, and nothing outside is touched', async () => {
    await initWorkspace();
    const elsewhere = join(dirs.workspace, '..', 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'keep.txt'), 'mine\n');
    await rm(join(dirs.workspace, '.keel'), { recursive: true, force: true });
    await symlink(elsewhere, join(dirs.workspace, '.keel'));

    const status = await runKeel(['status'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/\.keel is a symbolic link.*remove the link/s);
    await expect(startDaemon(dirs.workspace, dirs.runtime)).rejects.toThrow(/\.keel is a symbolic link/);
    expect(await readdir(elsewhere)).toEqual(['keep.txt']);
  });
});

describe('a symlink inside .keel', () => {
  it('is moved to quarantine, never followed', async () => {
    await initWorkspace();
    const elsewhere = join(dirs.workspace, '..', 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'keep.txt'), 'mine\n');
    await mkdir(join(dirs.workspace, '.keel', 'runs'), { recursive: true });
    await rm(join(dirs.workspace, '.keel', 'approvals'), { recursive: true, force: true });
    await symlink(elsewhere, join(dirs.workspace, '.keel', 'approvals'));
    await symlink(outside, join(dirs.workspace, '.keel', 'runs', `${RUN_ID}.jsonl`));

    const runs = await runKeel(['runs'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stderr).toContain('Keel never follows links inside .keel/');
    expect((await quarantinedNames()).sort()).toEqual([`${RUN_ID}.jsonl`, 'approvals']);
    expect(await readdir(elsewhere)).toEqual(['keep.txt']);
    expect(await readFile(outside, 'utf8')).toBe('the operator wrote this\n');
  });
});
