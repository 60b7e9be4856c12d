/**
 * `checkpoint` steps in a real daemon (in this process) with the OpenAI-compatible test server:
 * the run waits for the operator holding no concurrency slot, across a daemon restart, and goes
 * on with the state it showed (continue), with the operator's value (edit), or ends (stop).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  RunCheckpointRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  RunTakeoverRequest,
  type RunSummary,
} from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { commitWorkspace, runReaches, startTrustedDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer, type ReceivedRequest } from '../helpers/modelServer';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

/** A plan from the model, a look by the operator, then a message built from what they let through. */
const PLAN = `apiVersion: keel/v1
name: plan
role: Operations lead
description: Plans, pauses for the operator, then writes the plan out.
steps:
  - { id: plan, type: llm, prompt: "About plan" }
  - id: look
    type: checkpoint
    message: "Check the plan before it goes out: {{ steps.plan.output }}"
    show: "{{ steps.plan.output }}"
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: plan.md, content: "{{ steps.look.output }}" }
outputs:
  sent: { value: "{{ steps.look.output }}" }
`;

const QUICK = `apiVersion: keel/v1
name: quick
role: Operations lead
description: One model call.
steps:
  - { id: answer, type: llm, prompt: "About quick" }
`;

function prompt(request: ReceivedRequest): string {
  const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
  return messages.find((m) => m.role === 'user')!.content;
}

async function start(): Promise<void> {
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
}

async function startRun(runbook: string): Promise<string> {
  return (await client.request(RunStartRequest, { runbook, inputs: {} })).id;
}

function reaches(id: string, status: RunSummary['status']): Promise<RunSummary> {
  return runReaches(client, id, status);
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  server.respondWith((request) => ({ content: `the ${/^About (\w+)/.exec(prompt(request))?.[1]}` }));
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m }
runbooks: { concurrency: 1 }
`,
  );
  await writeNote(dirs.workspace, 'runbooks/plan.yaml', PLAN);
  await writeNote(dirs.workspace, 'runbooks/quick.yaml', QUICK);
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('waits at a checkpoint holding no slot, then continues with the state it showed', async () => {
  await start();
  const id = await startRun('plan');
  const waiting = await reaches(id, 'waiting_operator');
  expect(waiting.waitingFor).toBe('look');
  const { steps } = await client.request(RunGetRequest, { id });
  expect(steps.find((s) => s.id === 'look')).toMatchObject({
    status: 'waiting_operator',
    input: { message: 'Check the plan before it goes out: the plan', state: 'the plan' },
  });
  // With one slot, another run goes on while this one waits.
  const other = await startRun('quick');
  await reaches(other, 'succeeded');

  const answered = await client.request(RunCheckpointRequest, { id, action: 'continue' });
  expect(answered.stepId).toBe('look');
  const done = await reaches(id, 'succeeded');
  expect(done.outputs).toEqual({ sent: 'the plan' });
  expect(await readFile(join(dirs.workspace, 'outbox/plan.md'), 'utf8')).toBe('the plan');
  // A replay reads the answer from the journal.
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, divergence: null });
});

it('goes on with the value the operator edited', async () => {
  await start();
  const id = await startRun('plan');
  await reaches(id, 'waiting_operator');
  await client.request(RunCheckpointRequest, { id, action: 'edit', output: { value: 'a better plan' } });
  const done = await reaches(id, 'succeeded');
  expect(done.outputs).toEqual({ sent: 'a better plan' });
  const { steps } = await client.request(RunGetRequest, { id });
  expect(steps.find((s) => s.id === 'look')).toMatchObject({ status: 'succeeded', output: 'a better plan' });
});

it('stops the run when the operator says so, and the stopped run can be taken over', async () => {
  await start();
  const id = await startRun('plan');
  await reaches(id, 'waiting_operator');
  const { run } = await client.request(RunCheckpointRequest, { id, action: 'stop' });
  expect(run.status).toBe('cancelled');
  const stopped = await client.request(RunGetRequest, { id });
  expect(stopped.steps.find((s) => s.id === 'look')?.status).toBe('failed');
  await expect(client.request(RunCheckpointRequest, { id, action: 'continue' })).rejects.toThrow(
    /is cancelled, not waiting at a checkpoint/,
  );
  const before = server.requests.length;
  await client.request(RunTakeoverRequest, { id, fromStep: 'look' });
  await reaches(id, 'waiting_operator');
  await client.request(RunCheckpointRequest, { id, action: 'continue' });
  await reaches(id, 'succeeded');
  expect(server.requests.length).toBe(before);
});

it('still waits at its checkpoint after a daemon restart, and goes on when answered', async () => {
  await start();
  const id = await startRun('plan');
  await reaches(id, 'waiting_operator');
  await daemon!.stop('restart');
  const before = server.requests.length;
  await start();
  await reaches(id, 'waiting_operator');
  await client.request(RunCheckpointRequest, { id, action: 'edit', output: { value: 'plan B' } });
  const done = await reaches(id, 'succeeded');
  expect(done.outputs).toEqual({ sent: 'plan B' });
  expect(server.requests.length).toBe(before);
});
