/**
 * Provenance and impact through a real daemon, real git and real LanceDB: a run retrieves a note
 * and `keel/memory/why` lists it with the note's git blob id (as `git hash-object` prints it) and
 * the change it led to (its commit); editing the note makes the run possibly stale; a re-run with
 * the same inputs clears it; a restart keeps it all, the trace store rebuilt from the journals.
 * The agent's memory tools journal what they read too.
 */
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  MemoryWhyRequest,
  RunGetRequest,
  RunRerunRequest,
  RunStartRequest,
  StaleRunsRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

const NOTE = 'memory/customers/acme.md';
const BRIEF = 'memory/briefs/acme.md';

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' }).trim();
}

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
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
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, NOTE, '# Acme\n\nAcme renews its contract in March.\n');
  await writeNote(
    dirs.workspace,
    'runbooks/brief.yaml',
    `apiVersion: keel/v1
name: brief
role: Account manager
description: Drafts a customer brief from the customer's note.
inputs:
  customer: { type: string }
steps:
  - id: facts
    type: retrieve
    query: "{{ inputs.customer }} renews contract"
    k: 3
  - id: draft
    type: llm
    prompt: "Brief from: {% for c in steps.facts.output %}{{ c.text }}{% endfor %}"
  - id: save
    type: propose
    path: ${BRIEF}
    content: "{{ steps.draft.output }}"
    summary: "{{ inputs.customer }} brief"
    reasoning: From the customer's note.
`,
  );
  git('add', '-A');
  git('-c', 'user.name=Maya', '-c', 'user.email=maya@example.com', 'commit', '-q', '-m', 'Start');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
});
afterEach(async () => {
  await stop();
  await server.close();
  await dirs.cleanup();
});

async function until(id: string, statuses: RunSummary['status'][]): Promise<RunSummary> {
  return waitFor(
    `run ${id} ${statuses.join('/')}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return statuses.includes(run.status) ? run : null;
    },
    30_000,
  );
}

/** Runs the brief to its end: retrieve, draft, propose, approved by the operator. */
async function briefRun(): Promise<{ run: RunSummary; proposal: string }> {
  server.enqueue({ content: 'Acme renews in March.' });
  const started = await client.request(RunStartRequest, { runbook: 'brief', inputs: { customer: 'Acme' } });
  const waiting = await until(started.id, ['waiting_approval']);
  const proposal = waiting.waitingFor!;
  await client.request(ApprovalApproveRequest, { id: proposal });
  return { run: await until(started.id, ['succeeded']), proposal };
}

describe('provenance of a note', () => {
  it('lists the run with the blob it read, goes stale on an edit, and a re-run clears it', async () => {
    await start();
    const { run, proposal } = await briefRun();
    const original = git('hash-object', NOTE);

    const why = await client.request(MemoryWhyRequest, { path: NOTE });
    expect(why.blob).toBe(original);
    expect(why.runs).toMatchObject([
      { runId: run.id, runbook: 'brief', blob: original, current: true, steps: ['facts'] },
    ]);
    const commit = git('log', '-1', '--format=%H', '--', BRIEF);
    expect(why.changes).toEqual([
      expect.objectContaining({ proposalId: proposal, runId: run.id, commit, relation: 'produced' }),
    ]);
    expect((await client.request(StaleRunsRequest)).runs).toEqual([]);

    // The note changes: the run's brief was built on the old version.
    await writeFile(join(dirs.workspace, NOTE), '# Acme\n\nAcme renews its contract in May.\n');
    const edited = git('hash-object', NOTE);
    const stale = await client.request(StaleRunsRequest);
    expect(stale.runs).toMatchObject([
      { runId: run.id, runbook: 'brief', notes: [{ path: NOTE, blob: original, currentBlob: edited }] },
    ]);
    expect((await client.request(MemoryWhyRequest, { path: NOTE })).runs[0]).toMatchObject({
      blob: original,
      current: false,
    });

    // One click: the same runbook with the same inputs, through the same approvals.
    server.enqueue({ content: 'Acme renews in May.' });
    const again = await client.request(RunRerunRequest, { id: run.id });
    expect(again.id).not.toBe(run.id);
    await until(again.id, ['waiting_approval']);
    expect((await client.request(StaleRunsRequest)).runs).toEqual([]);
    const after = await client.request(MemoryWhyRequest, { path: NOTE });
    expect(after.runs.map((r) => [r.runId, r.blob, r.current])).toEqual([
      [again.id, edited, true],
      [run.id, original, false],
    ]);

    // A restart keeps it, and so does a trace store rebuilt from the journals alone.
    await stop();
    await start();
    expect(await client.request(MemoryWhyRequest, { path: NOTE })).toEqual(after);
    await stop();
    await rm(join(dirs.workspace, '.keel', 'runs.duckdb'), { force: true });
    await rm(join(dirs.workspace, '.keel', 'runs.duckdb.wal'), { force: true });
    await start();
    expect(await client.request(MemoryWhyRequest, { path: NOTE })).toEqual(after);
    expect((await client.request(StaleRunsRequest)).runs).toEqual([]);

    // The operator's question, from the command line (the daemon in its process once stopped here),
    // with the note's path from the folder they are in.
    await stop();
    const cli = await runKeel(['why', NOTE, '--json'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual(after);
    const words = await runKeel(['why', 'customers/acme.md'], {
      cwd: join(dirs.workspace, 'memory'),
      runtime: dirs.runtime,
    });
    expect(words.stdout).toContain(`Used by 2 runs:`);
    expect(words.stdout).toContain(`${run.id}  brief`);
    expect(words.stdout).toContain('(changed since: possibly stale)');
    expect(words.stdout).toContain(`commit ${commit.slice(0, 12)}  from run ${run.id}: Acme brief`);
  });

  it("journals the agent's memory_read and memory_search with the blobs they read", async () => {
    await writeNote(
      dirs.workspace,
      'runbooks/reader.yaml',
      `apiVersion: keel/v1
name: reader
role: Account manager
description: Reads the customer's note with its tools.
steps:
  - id: look
    type: agent
    goal: Read the Acme note.
    tools: [memory.search, memory.read]
`,
    );
    await start();
    server.enqueue({ toolCalls: [{ name: 'memory_read', arguments: { path: NOTE } }] });
    server.enqueue({ toolCalls: [{ name: 'memory_search', arguments: { query: 'Acme renews' } }] });
    server.enqueue({ content: 'Done.' });
    const started = await client.request(RunStartRequest, { runbook: 'reader', inputs: {} });
    await until(started.id, ['succeeded']);
    const blob = git('hash-object', NOTE);
    const { steps } = await client.request(RunGetRequest, { id: started.id });
    expect(steps[0]!.retrieved.length).toBeGreaterThanOrEqual(2);
    // The read, then the search hits (of the note and of whatever else matched): each with its blob.
    expect(steps[0]!.retrieved[0]).toMatchObject({ path: NOTE, startLine: 1, blob });
    expect(steps[0]!.retrieved.slice(1).map((hit) => hit.path)).toContain(NOTE);
    for (const hit of steps[0]!.retrieved) expect(hit.blob).toBe(git('hash-object', hit.path));
    const why = await client.request(MemoryWhyRequest, { path: NOTE });
    expect(why.runs).toMatchObject([{ runId: started.id, blob, current: true, steps: ['look'] }]);
  });
});
