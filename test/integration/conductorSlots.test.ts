/**
 * Concurrency slots in a real daemon (in this process) with a real git repository: a run waiting
 * for the operator holds no slot, so with `concurrency: 2` two pending approvals stop nothing
 * else, over a restart too; a decided run takes a slot again through the queue; cancel and the
 * emergency stop still reach a run that waits, or waits for its slot back.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  EmergencyStopRequest,
  ResumeRequest,
  RunCancelRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { commitWorkspace, git as gitIn, runReaches, startTrustedDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

function git(...args: string[]): string {
  return gitIn(dirs.workspace, ...args);
}

async function start(): Promise<void> {
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
}

async function configure(concurrency: number): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m }
  timeoutSeconds: 60
runbooks: { concurrency: ${concurrency} }
`,
  );
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await configure(2);
  await writeNote(dirs.workspace, 'runbooks/decide.yaml', DECIDE);
  await writeNote(dirs.workspace, 'runbooks/draft.yaml', DRAFT);
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', ASK);
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

/** Waits for the operator's decision on a new note. */
const DECIDE = `apiVersion: keel/v1
name: decide
role: Account manager
description: Proposes a note and waits for the operator.
inputs:
  name: { type: string }
steps:
  - id: note
    type: propose
    path: "memory/accounts/{{ inputs.name }}.md"
    content: "# {{ inputs.name }}\\n"
    summary: "A note on {{ inputs.name }}"
    reasoning: The operator asked for one.
`;

/** Model-free: one outbox file. */
const DRAFT = `apiVersion: keel/v1
name: draft
role: Operations
description: Writes a draft to the outbox.
inputs:
  name: { type: string }
steps:
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: "{{ inputs.name }}.md", content: "Draft for {{ inputs.name }}" }
`;

/** One model call (the test server can leave it hanging, holding the slot). */
const ASK = `apiVersion: keel/v1
name: ask
role: Analyst
description: Asks the model once.
steps:
  - id: answer
    type: llm
    prompt: Say something.
`;

async function startRun(runbook: string, inputs: Record<string, string> = {}): Promise<string> {
  return (await client.request(RunStartRequest, { runbook, inputs })).id;
}

async function runStatus(id: string): Promise<RunSummary> {
  return (await client.request(RunGetRequest, { id })).run;
}

function reaches(id: string, status: RunSummary['status'], timeoutMs = 10_000): Promise<RunSummary> {
  return runReaches(client, id, status, timeoutMs);
}

/** Starts a model-free run and resolves with how long it took to succeed. */
async function draftTakes(name: string): Promise<number> {
  const began = performance.now();
  const id = await startRun('draft', { name });
  await reaches(id, 'succeeded');
  const took = performance.now() - began;
  expect(await readFile(join(dirs.workspace, 'outbox', `${name}.md`), 'utf8')).toBe(`Draft for ${name}`);
  return took;
}

it('lets a model-free run finish while two runs wait for approval, then resumes them when approved', async () => {
  await start();
  const waiting = [await startRun('decide', { name: 'acme' }), await startRun('decide', { name: 'globex' })];
  const proposals = await Promise.all(
    waiting.map(async (id) => (await reaches(id, 'waiting_approval')).waitingFor!),
  );

  const took = await draftTakes('initech');
  console.info(`a model-free run beside two pending approvals took ${took.toFixed(0)} ms`);
  for (const id of waiting) expect(await runStatus(id)).toMatchObject({ status: 'waiting_approval' });

  for (const proposal of proposals) await client.request(ApprovalApproveRequest, { id: proposal });
  for (const id of waiting) await reaches(id, 'succeeded');
  expect(await readFile(join(dirs.workspace, 'memory/accounts/acme.md'), 'utf8')).toBe('# acme\n');
  expect(await readFile(join(dirs.workspace, 'memory/accounts/globex.md'), 'utf8')).toBe('# globex\n');
});

it('still frees the slots of waiting runs after a daemon restart', async () => {
  await start();
  const waiting = [await startRun('decide', { name: 'acme' }), await startRun('decide', { name: 'globex' })];
  const proposals = await Promise.all(
    waiting.map(async (id) => (await reaches(id, 'waiting_approval')).waitingFor!),
  );
  await daemon!.stop('restart');
  await start();
  for (const id of waiting) await reaches(id, 'waiting_approval');

  const took = await draftTakes('initech');
  console.info(`after a restart, a model-free run beside two pending approvals took ${took.toFixed(0)} ms`);

  for (const proposal of proposals) await client.request(ApprovalApproveRequest, { id: proposal });
  for (const id of waiting) await reaches(id, 'succeeded');
  expect(git('log', '--format=%s').trim().split('\n')).toHaveLength(3);
});

it('queues a decided run for a slot, where cancel and the emergency stop still reach it', async () => {
  await configure(1);
  await start();
  const decide = await startRun('decide', { name: 'acme' });
  const proposal = (await reaches(decide, 'waiting_approval')).waitingFor!;

  // The only slot goes to a run blocked in a model call; the decided run waits for it, queued.
  server.enqueue({ fault: { kind: 'hang' } });
  const ask = await startRun('ask');
  await waitFor('the model call', () => server.requests.length === 1);
  await client.request(ApprovalApproveRequest, { id: proposal });
  await reaches(decide, 'queued');

  // The emergency stop halts both; after resume the decided run goes on from its journal.
  await client.request(EmergencyStopRequest, { reason: 'test' });
  expect(await runStatus(ask)).toMatchObject({ status: 'queued' });
  server.enqueue({ content: 'done' });
  await client.request(ResumeRequest);
  await reaches(ask, 'succeeded');
  await reaches(decide, 'succeeded');

  // Cancel reaches a run waiting for its decision, and one waiting for its slot back.
  const first = await startRun('decide', { name: 'globex' });
  const firstProposal = (await reaches(first, 'waiting_approval')).waitingFor!;
  server.enqueue({ fault: { kind: 'hang' } });
  const blocker = await startRun('ask');
  await waitFor('the second model call', () => server.requests.length === 3);
  const second = await startRun('decide', { name: 'hooli' });
  expect(await runStatus(second)).toMatchObject({ status: 'queued' });
  await client.request(ApprovalApproveRequest, { id: firstProposal });
  await reaches(first, 'queued');
  expect(await client.request(RunCancelRequest, { id: first })).toMatchObject({ status: 'cancelled' });
  expect(await client.request(RunCancelRequest, { id: blocker })).toMatchObject({ status: 'cancelled' });
  const secondProposal = (await reaches(second, 'waiting_approval')).waitingFor!;
  expect(await client.request(RunCancelRequest, { id: second })).toMatchObject({ status: 'cancelled' });
  const { proposal: withdrawn } = await client.request(ApprovalGetRequest, { id: secondProposal });
  expect(withdrawn).toMatchObject({ status: 'rejected' });
});
