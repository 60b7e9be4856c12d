/**
 * Hand-offs, in a real daemon (in this process) with a real git repository and the
 * OpenAI-compatible test server: a `runbook` step starts another runbook as a child run with
 * typed inputs and takes its outputs; children of parallel steps run side by side; a parent
 * waiting for its child holds no slot; the child spends from its parent's budget; parent and
 * child link to each other; a supervisor agent hands off through a tool; a cycle never runs;
 * cancelling the parent cancels the child; a restart waits for the same child, never a second.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  RunbooksListRequest,
  RunCancelRequest,
  RunGetRequest,
  RunReplayRequest,
  RunsListRequest,
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
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

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

/** A child: one input, one model call, one output. */
const REPORT = (name: string): string => `apiVersion: keel/v1
name: ${name}
role: ${name} lead
description: The week's ${name} in a line.
inputs:
  week: { type: integer, description: ISO week number }
steps:
  - { id: draft, type: llm, prompt: "About ${name} in week {{ inputs.week }}" }
outputs:
  line: { value: "{{ steps.draft.output }}" }
`;

/** A supervisor: two hand-offs side by side, then a join that reads both children's outputs. */
const WEEKLY = `apiVersion: keel/v1
name: weekly
role: Operations lead
description: Hands the week to sales and content, then sums up.
# Each hand-off sets its child's whole budget aside ($0.50 and 100,000 tokens by default).
budget: { maxUsd: 2, maxTokens: 250000 }
steps:
  - { id: sales, type: runbook, runbook: sales, inputs: { week: 48 }, needs: [] }
  - { id: content, type: runbook, runbook: content, inputs: { week: "{{ 40 | plus: 8 }}" }, needs: [] }
  - id: summary
    type: llm
    needs: [sales, content]
    prompt: "Summary of {{ steps.sales.output.line }} and {{ steps.content.output.line }}"
outputs:
  summary: { value: "{{ steps.summary.output }}" }
`;

/** A child that waits for the operator. */
const NOTE = `apiVersion: keel/v1
name: note
role: Account manager
description: Proposes a note.
steps:
  - id: write
    type: propose
    path: memory/accounts/acme.md
    content: "# Acme\\n"
outputs:
  decided: { value: "{{ steps.write.output.decision }}" }
`;

const NOTER = `apiVersion: keel/v1
name: noter
role: Operations lead
description: Hands a note off and reports.
steps:
  - { id: hand, type: runbook, runbook: note }
outputs:
  decided: { value: "{{ steps.hand.output.decided }}" }
`;

const SUPERVISOR = `apiVersion: keel/v1
name: supervisor
role: Operations lead
description: Lets the model pick who does the work.
steps:
  - id: plan
    type: agent
    goal: Get this week's sales line.
    runbooks: [sales]
outputs:
  answer: { value: "{{ steps.plan.output.answer }}" }
`;

function prompt(request: ReceivedRequest): string {
  const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
  return messages.find((m) => m.role === 'user')!.content;
}

/** Answers `About X in week N` with "X line N" after `delayMs`, anything else with "joined: <prompt>". */
function answerByTopic(delayMs = 200): void {
  server.respondWith((request) => {
    const about = /^About (\w+) in week (\d+)/.exec(prompt(request));
    return about
      ? { content: `${about[1]} line ${about[2]}`, delayMs }
      : { content: `joined: ${prompt(request)}`, delayMs: 10 };
  });
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

async function runs(): Promise<RunSummary[]> {
  return (await client.request(RunsListRequest, { limit: 100 })).runs;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await configure('{ parallelSteps: 4 }');
  for (const [name, text] of Object.entries({
    sales: REPORT('sales'),
    content: REPORT('content'),
    weekly: WEEKLY,
    note: NOTE,
    noter: NOTER,
    supervisor: SUPERVISOR,
  })) {
    await writeNote(dirs.workspace, `runbooks/${name}.yaml`, text);
  }
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('hands off to two runbooks side by side and joins their outputs, each child linked to its parent', async () => {
  answerByTopic();
  await start();
  const id = await startRun('weekly');
  const ended = await reaches(id, 'succeeded');
  expect(ended.outputs).toEqual({ summary: 'joined: Summary of sales line 48 and content line 48' });
  // Both children asked the model before either answered.
  const [first, second] = server.requests;
  expect([prompt(first!), prompt(second!)].sort()).toEqual([
    'About content in week 48',
    'About sales in week 48',
  ]);
  expect(second!.receivedAt - first!.receivedAt).toBeLessThan(190);

  const children = (await runs()).filter((run) => run.parent?.runId === id);
  expect(children.map((run) => [run.runbook, run.status, run.inputs, run.parent?.stepId]).sort()).toEqual([
    ['content', 'succeeded', { week: 48 }, 'content'],
    ['sales', 'succeeded', { week: 48 }, 'sales'],
  ]);
  // The parent's trace links each child; the parent's spend includes theirs.
  const trace = await client.request(RunGetRequest, { id });
  const linked = trace.steps.filter((s) => s.type === 'runbook').map((s) => s.children);
  expect(linked).toEqual([
    [{ runId: `${id}.sales`, runbook: 'sales', status: 'succeeded' }],
    [{ runId: `${id}.content`, runbook: 'content', status: 'succeeded' }],
  ]);
  const childTokens = children.reduce((sum, run) => sum + run.tokens, 0);
  expect(childTokens).toBeGreaterThan(0);
  expect(ended.tokens).toBeGreaterThan(childTokens);

  // The replay takes both children's ends from the journal: nothing runs, nothing is asked.
  const asked = server.requests.length;
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, sideEffects: 0, divergence: null });
  expect(server.requests).toHaveLength(asked);
  expect((await runs()).length).toBe(3);
});

it('gives the parent’s slot to its children: with one slot, the hand-offs still run', async () => {
  await configure('{ concurrency: 1, parallelSteps: 4 }');
  answerByTopic(50);
  await start();
  const ended = await reaches(await startRun('weekly'), 'succeeded');
  expect(ended.outputs?.summary).toMatch(/sales line 48 and content line 48/);
});

it('runs a child within what is left of its parent’s budget, and fails the step when it runs out', async () => {
  // Each call could cost up to $0.41 (1,024 output tokens at $400 per million). The child's own
  // budget would allow it, but its parent has only $0.30 to hand it: the call is never made.
  await configure('{ parallelSteps: 1 }', '{ model: m, inputUsdPerMTok: 0, outputUsdPerMTok: 400 }');
  await writeNote(dirs.workspace, 'runbooks/weekly.yaml', WEEKLY.replace('maxUsd: 2', 'maxUsd: 0.3'));
  answerByTopic(10);
  await start();
  const id = await startRun('weekly');
  const ended = await reaches(id, 'failed');
  expect(ended.error).toMatch(/step "sales" failed: its child run .*\.sales \(sales\) ended budget exceeded/);
  const child = (await runs()).find((run) => run.id === `${id}.sales`)!;
  expect(child.status).toBe('budget_exceeded');
  expect(child.error).toMatch(/budget\.maxUsd \(\$0\.3\)/);
  expect(server.requests).toHaveLength(0);
});

it('lets a supervisor agent hand off through a tool and read the child’s outputs', async () => {
  server.enqueue({ toolCalls: [{ name: 'handoff_sales', arguments: { week: 7 } }] });
  answerByTopic(10);
  await start();
  // The second agent turn answers once it has read the child's outputs.
  server.respondWith((request) => {
    const text = prompt(request);
    if (text.startsWith('About sales')) return { content: 'sales line 7' };
    const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
    return { content: `done with ${messages.at(-1)!.content}` };
  });
  const id = await startRun('supervisor');
  const ended = await reaches(id, 'succeeded');
  const offered = (
    server.requests[0]!.body as { tools: { function: { name: string; parameters: unknown } }[] }
  ).tools;
  expect(offered.map((t) => t.function.name)).toEqual(['handoff_sales']);
  expect(offered[0]!.function.parameters).toEqual({
    type: 'object',
    properties: { week: { type: 'integer', description: 'ISO week number' } },
    required: ['week'],
  });
  expect(ended.outputs?.answer).toContain('"outputs":{"line":"sales line 7"}');
  const child = (await runs()).find((run) => run.parent?.runId === id)!;
  expect(child).toMatchObject({ runbook: 'sales', status: 'succeeded', inputs: { week: 7 } });
  expect(child.id).toBe(`${id}.plan.0.0`);
});

it('refuses runbooks that hand off in a cycle, naming it in the runbook’s problems', async () => {
  await writeNote(
    dirs.workspace,
    'runbooks/ping.yaml',
    NOTER.replace('name: noter', 'name: ping').replace('runbook: note', 'runbook: pong'),
  );
  await writeNote(
    dirs.workspace,
    'runbooks/pong.yaml',
    NOTER.replace('name: noter', 'name: pong').replace('runbook: note', 'runbook: ping'),
  );
  await start();
  const { runbooks } = await client.request(RunbooksListRequest, {});
  const ping = runbooks.find((r) => r.name === 'ping')!;
  expect(ping.problems[0]).toMatchObject({
    path: 'runbooks/ping.yaml',
    line: 6,
    message: 'steps.0.runbook: runbooks hand off in a cycle (ping → pong → ping): a run would never end',
  });
  await expect(client.request(RunStartRequest, { runbook: 'ping', inputs: {} })).rejects.toThrow(
    /runbooks\/ping\.yaml cannot run until it is fixed: .*cycle/,
  );
});

it('cancels the child with its parent, and withdraws the child’s proposal', async () => {
  await start();
  const id = await startRun('noter');
  const child = await waitFor('the child waiting', async () =>
    (await runs()).find((run) => run.parent?.runId === id && run.status === 'waiting_approval'),
  );
  // The parent waits for its child: under way, holding no slot.
  expect((await client.request(RunGetRequest, { id })).run).toMatchObject({
    status: 'running',
    waitingForRun: child.id,
  });
  await client.request(RunCancelRequest, { id });
  await reaches(id, 'cancelled');
  await reaches(child.id, 'cancelled');
  const { approvals } = await client.request(ApprovalsListRequest, {});
  expect(approvals.map((p) => [p.runId, p.status, p.decision?.reason])).toEqual([
    [child.id, 'rejected', 'the run was cancelled'],
  ]);
});

it('waits for the same child after a restart, and goes on once the child’s proposal is approved', async () => {
  await start();
  const id = await startRun('noter');
  const child = await waitFor('the child waiting', async () =>
    (await runs()).find((run) => run.parent?.runId === id && run.status === 'waiting_approval'),
  );
  await daemon!.stop('restart');
  await start();
  const waiting = await reaches(child.id, 'waiting_approval');
  await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
  const ended = await reaches(id, 'succeeded');
  expect(ended.outputs).toEqual({ decided: 'approved' });
  // One child, one journal each: the restart found the child instead of starting another.
  const journals = (await readdir(join(dirs.workspace, '.keel/runs'))).filter((n) => n.endsWith('.jsonl'));
  expect(journals.sort()).toEqual([`${id}.hand.jsonl`, `${id}.jsonl`]);
});

it('hands off to a new child when the operator takes a failed parent over from its hand-off', async () => {
  await configure('{ parallelSteps: 1 }');
  // The first sales child's model fails for good; everything after answers.
  server.enqueue({ fault: { kind: 'status', status: 400, message: 'bad request' } });
  answerByTopic(10);
  await start();
  const id = await startRun('weekly');
  const failed = await reaches(id, 'failed');
  expect(failed.error).toMatch(/its child run .*\.sales \(sales\) ended failed/);
  await client.request(RunTakeoverRequest, { id, fromStep: 'sales' });
  const ended = await reaches(id, 'succeeded');
  expect(ended.outputs).toEqual({ summary: 'joined: Summary of sales line 48 and content line 48' });
  const children = (await runs()).filter((run) => run.parent?.runId === id);
  expect(children.map((run) => [run.id.slice(id.length), run.status]).sort()).toEqual([
    ['.content', 'succeeded'],
    ['.sales', 'failed'],
    ['.sales.t1', 'succeeded'],
  ]);
});
