/**
 * How steps execute, in a real daemon (in this process) with a real git repository and the
 * OpenAI-compatible test server. Parallel: steps whose `needs:` have ended start together (up to
 * `runbooks.parallelSteps`), a join waits for both, the budget holds across branches, a branch
 * waiting for the operator gives the run's slot up only once no branch works, and a restart takes
 * every ended branch from the journal. Retries and timeouts: a failed or timed-out attempt is
 * tried again as `retry:` says, each attempt in the trace; a rejection is never retried, and time
 * waiting for the operator is not the step's.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { commitWorkspace, runReaches, startTrustedDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer, type ReceivedRequest } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

async function start(): Promise<void> {
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
}

async function configure(runbooks: string, tier = '{ model: m }'): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: ${tier}
runbooks: ${runbooks}
`,
  );
}

/** Two independent model calls, a join that reads both, then an outbox file. */
const WEEKLY = `apiVersion: keel/v1
name: weekly
role: Operations lead
description: The week's sales and content, side by side, then one summary.
budget: { maxUsd: 1.5 }
steps:
  - { id: sales, type: llm, prompt: "About sales", needs: [] }
  - { id: content, type: llm, prompt: "About content", needs: [] }
  - id: summary
    type: llm
    needs: [sales, content]
    prompt: "Summary of {{ steps.sales.output }} and {{ steps.content.output }}"
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: weekly.md, content: "{{ steps.summary.output }}" }
`;

/** A branch that waits for the operator beside a branch that asks the model. */
const REVIEW = `apiVersion: keel/v1
name: review
role: Account manager
description: Proposes a note while the model drafts a reply.
steps:
  - id: note
    type: propose
    needs: []
    path: memory/accounts/acme.md
    content: "# Acme\\n"
  - { id: reply, type: llm, prompt: "About reply", needs: [] }
`;

const DRAFT = `apiVersion: keel/v1
name: draft
role: Operations
description: Writes a draft to the outbox.
steps:
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: draft.md, content: Draft }
`;

/** The prompt a request sent. */
function prompt(request: ReceivedRequest): string {
  const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
  return messages.find((m) => m.role === 'user')!.content;
}

/** Answers `About X` with X's name after `delayMs`, and anything else with "joined". */
function answerByTopic(delayMs: Record<string, number> = {}): void {
  server.respondWith((request) => {
    const topic = /^About (\w+)/.exec(prompt(request))?.[1];
    return topic
      ? { content: topic, delayMs: delayMs[topic] ?? 300 }
      : { content: `joined: ${prompt(request)}`, delayMs: 10 };
  });
}

async function run(id: string): Promise<RunSummary> {
  return (await client.request(RunGetRequest, { id })).run;
}

function reaches(id: string, status: RunSummary['status']): Promise<RunSummary> {
  return runReaches(client, id, status);
}

async function startRun(runbook: string): Promise<string> {
  return (await client.request(RunStartRequest, { runbook, inputs: {} })).id;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await configure('{ parallelSteps: 4 }');
  await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY);
  await writeNote(dirs.workspace, 'runbooks/review.yaml', REVIEW);
  await writeNote(dirs.workspace, 'runbooks/draft.yaml', DRAFT);
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('asks the model for both branches at once, then the join with both answers', async () => {
  answerByTopic();
  await start();
  const id = await startRun('weekly');
  const ended = await reaches(id, 'succeeded');
  expect(ended.stepsDone).toBe(4);
  const [first, second, join_] = server.requests;
  expect([prompt(first!), prompt(second!)].sort()).toEqual(['About content', 'About sales']);
  // Both were asked before either answered (each answer takes 300 ms).
  expect(second!.receivedAt - first!.receivedAt).toBeLessThan(250);
  expect(join_!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(290);
  expect(prompt(join_!)).toBe('Summary of sales and content');
  expect(await readFile(join(dirs.workspace, 'outbox/weekly.md'), 'utf8')).toBe(
    'joined: Summary of sales and content',
  );
  // The replay takes both branches and the join from the journal: no call, no write.
  const asked = server.requests.length;
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, sideEffects: 0, divergence: null });
  expect(server.requests).toHaveLength(asked);
});

it('asks one at a time with parallelSteps: 1', async () => {
  await configure('{ parallelSteps: 1 }');
  answerByTopic();
  await start();
  await reaches(await startRun('weekly'), 'succeeded');
  const [first, second] = server.requests;
  expect(prompt(first!)).toBe('About sales');
  expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(290);
});

it('holds the budget across branches: a call that fits alone waits for no room beside another', async () => {
  // Each call could cost up to $1.024 (1,024 output tokens at $1,000 per million); the run may spend $1.50.
  await configure('{ parallelSteps: 4 }', '{ model: m, inputUsdPerMTok: 0, outputUsdPerMTok: 1000 }');
  answerByTopic();
  await start();
  const ended = await reaches(await startRun('weekly'), 'budget_exceeded');
  expect(ended.error).toMatch(/held by calls in flight that passes budget\.maxUsd \(\$1\.5\)/);
  // The first branch's call may or may not have reached the server before the run stopped it.
  expect(server.requests.length).toBeLessThanOrEqual(1);
});

it('gives the slot up only once every branch waits, so another run goes on meanwhile', async () => {
  await configure('{ concurrency: 1, parallelSteps: 4 }');
  answerByTopic({ reply: 1_500 });
  await start();
  const review = await startRun('review');
  await waitFor('the model call', () => server.requests.length === 1);
  // One branch waits for the operator, the other works: the run keeps the only slot.
  const draft = await startRun('draft');
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect((await run(draft)).status).toBe('queued');
  // The model answered; only the decision is left: the slot goes to the other run.
  await reaches(draft, 'succeeded');
  expect(server.requests).toHaveLength(1);
  const waiting = await reaches(review, 'waiting_approval');
  await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
  await reaches(review, 'succeeded');
  expect(await readFile(join(dirs.workspace, 'memory/accounts/acme.md'), 'utf8')).toBe('# Acme\n');
});

it('after a restart, takes the branch that ended from the journal and asks only for the other', async () => {
  answerByTopic({ content: 60_000 });
  await start();
  const id = await startRun('weekly');
  await waitFor('sales to end, content to be asked', async () => (await run(id)).stepsDone === 1);
  await daemon!.stop('restart');
  server.respondWith((request) => ({
    content: /^About/.test(prompt(request)) ? 'content' : `joined: ${prompt(request)}`,
  }));
  const before = server.requests.length;
  await start();
  await reaches(id, 'succeeded');
  const asked = server.requests.slice(before).map(prompt);
  expect(asked).toEqual(['About content', 'Summary of sales and content']);
  expect(await readdir(join(dirs.workspace, 'outbox'))).toEqual(['weekly.md']);
});

const FLAKY = `apiVersion: keel/v1
name: flaky
role: Analyst
description: One model call, tried again when it fails or takes too long.
steps:
  - id: answer
    type: llm
    prompt: "About answers"
    timeoutSeconds: 1
    retry: { maxAttempts: 3, backoffSeconds: 0.05 }
`;

const GUARDED = `apiVersion: keel/v1
name: guarded
role: Account manager
description: A proposal with a short timeout and retries.
steps:
  - id: note
    type: propose
    path: memory/accounts/acme.md
    content: "# Acme\\n"
    timeoutSeconds: 0.3
    retry: { maxAttempts: 3, backoffSeconds: 0 }
`;

it('tries a failed step again, then one that took too long, with each attempt in the trace', async () => {
  await writeNote(dirs.workspace, 'runbooks/flaky.yaml', FLAKY);
  server.enqueue(
    { fault: { kind: 'status', status: 400, message: 'bad request' } },
    { content: 'late', delayMs: 5_000 },
    { content: 'fine' },
  );
  await start();
  const began = performance.now();
  const id = await startRun('flaky');
  const ended = await reaches(id, 'succeeded');
  expect(performance.now() - began).toBeLessThan(4_500);
  expect(ended.outputs).toEqual({});
  expect(server.requests).toHaveLength(3);
  const { steps } = await client.request(RunGetRequest, { id });
  expect(steps[0]!.output).toBe('fine');
  expect(steps[0]!.attempts).toEqual([
    expect.objectContaining({ attempt: 1, status: 'failed', error: expect.stringMatching(/400/) }),
    expect.objectContaining({
      attempt: 2,
      status: 'failed',
      error: 'it took longer than its timeoutSeconds (1 s)',
    }),
    expect.objectContaining({ attempt: 3, status: 'succeeded', error: null }),
  ]);
  // The replay fails the first two attempts as they failed, and takes the third's answer.
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, divergence: null });
  expect(server.requests).toHaveLength(3);
});

it('fails after the last attempt, naming how many there were', async () => {
  await writeNote(dirs.workspace, 'runbooks/flaky.yaml', FLAKY);
  server.respondWith(() => ({ fault: { kind: 'status', status: 400, message: 'bad request' } }));
  await start();
  const ended = await reaches(await startRun('flaky'), 'failed');
  expect(ended.error).toMatch(/^step "answer" failed after 3 attempts: /);
  expect(server.requests).toHaveLength(3);
});

it('never retries a rejection, and does not count the wait for the operator against the timeout', async () => {
  await writeNote(dirs.workspace, 'runbooks/guarded.yaml', GUARDED);
  await start();
  const first = await reaches(await startRun('guarded'), 'waiting_approval');
  await new Promise((resolve) => setTimeout(resolve, 800));
  await client.request(ApprovalApproveRequest, { id: first.waitingFor! });
  await reaches(first.id, 'succeeded');

  const second = await reaches(await startRun('guarded'), 'waiting_approval');
  await client.request(ApprovalRejectRequest, { id: second.waitingFor!, reason: 'not now' });
  const ended = await reaches(second.id, 'failed');
  expect(ended.error).toBe('step "note" failed: the operator rejected the change: not now');
});
