/**
 * Taking an ended run over, in a real daemon (in this process) with a real git repository and
 * the OpenAI-compatible test server: a failed run goes on from a chosen step with the steps
 * before it taken from the journal (the model is not asked for them again), or with that step's
 * output supplied by hand; a restart in the middle of a taken-over run finishes it; a propose
 * step run again asks the operator again; a replay still matches; and what cannot be taken over
 * is refused in words.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  RunCancelRequest,
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
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

/** Three model calls in a row, then an outbox file made of the last answer. */
const DIGEST = `apiVersion: keel/v1
name: digest
role: Operations lead
description: Facts, a draft from them, a final version, saved to the outbox.
steps:
  - { id: facts, type: llm, prompt: "About facts" }
  - { id: draft, type: llm, prompt: "About draft from {{ steps.facts.output }}" }
  - { id: final, type: llm, prompt: "About final from {{ steps.draft.output }}" }
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: digest.md, content: "{{ steps.final.output }}" }
outputs:
  final: { value: "{{ steps.final.output }}" }
`;

/** A model answer, then a change for the operator, then a step that can fail. */
const NOTE = `apiVersion: keel/v1
name: note
role: Account manager
description: Drafts a note, proposes it, then checks it.
steps:
  - { id: text, type: llm, prompt: "About text" }
  - id: save
    type: propose
    path: memory/accounts/acme.md
    content: "{{ steps.text.output }}"
  - { id: check, type: llm, prompt: "About check" }
`;

function prompt(request: ReceivedRequest): string {
  const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
  return messages.find((m) => m.role === 'user')!.content;
}

/** Answers `About X...` with X; prompts starting with a topic in `failing` get a 400. */
function answer(failing: Set<string>, delayMs: Record<string, number> = {}): void {
  server.respondWith((request) => {
    const topic = /^About (\w+)/.exec(prompt(request))?.[1] ?? 'other';
    if (failing.has(topic)) return { fault: { kind: 'status', status: 400, message: `no ${topic} today` } };
    return { content: topic, delayMs: delayMs[topic] ?? 0 };
  });
}

function asked(from = 0): string[] {
  return server.requests.slice(from).map((r) => /^About (\w+)/.exec(prompt(r))?.[1] ?? '?');
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
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1, outputUsdPerMTok: 1 }
`,
  );
  await writeNote(dirs.workspace, 'runbooks/digest.yaml', DIGEST);
  await writeNote(dirs.workspace, 'runbooks/note.yaml', NOTE);
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('takes a failed run over from a step: the steps before it are not asked again', async () => {
  answer(new Set(['final']));
  await start();
  const id = await startRun('digest');
  const failed = await reaches(id, 'failed');
  expect(failed.error).toMatch(/step "final" failed.*no final today/);
  expect(asked()).toEqual(['facts', 'draft', 'final']);
  const spent = failed.costUsd;

  answer(new Set());
  const before = server.requests.length;
  const taken = await client.request(RunTakeoverRequest, { id, fromStep: 'draft' });
  expect(taken.id).toBe(id);
  expect(taken.takeovers).toBe(1);
  const done = await reaches(id, 'succeeded');
  expect(asked(before)).toEqual(['draft', 'final']);
  expect(done.outputs).toEqual({ final: 'final' });
  expect(done.stepsDone).toBe(4);
  // What the failed attempt spent still counts.
  expect(done.costUsd).toBeGreaterThan(spent);
  expect(await readFile(join(dirs.workspace, 'outbox/digest.md'), 'utf8')).toBe('final');

  const trace = await client.request(RunGetRequest, { id });
  expect(trace.takeovers).toEqual([{ fromStep: 'draft', supplied: false, at: expect.any(String) }]);
  expect(trace.steps.map((s) => [s.id, s.status])).toEqual([
    ['facts', 'succeeded'],
    ['draft', 'succeeded'],
    ['final', 'succeeded'],
    ['save', 'succeeded'],
  ]);
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, sideEffects: 0, divergence: null });
});

it('takes a run over with a step output supplied by hand: that step is never asked', async () => {
  answer(new Set(['final']));
  await start();
  const id = await startRun('digest');
  await reaches(id, 'failed');
  const before = server.requests.length;
  await client.request(RunTakeoverRequest, {
    id,
    fromStep: 'final',
    output: { value: 'Written by Maya' },
  });
  const done = await reaches(id, 'succeeded');
  expect(asked(before)).toEqual([]);
  expect(done.outputs).toEqual({ final: 'Written by Maya' });
  expect(await readFile(join(dirs.workspace, 'outbox/digest.md'), 'utf8')).toBe('Written by Maya');
  const { steps, takeovers } = await client.request(RunGetRequest, { id });
  const final = steps.find((s) => s.id === 'final')!;
  expect(final).toMatchObject({ status: 'succeeded', supplied: true, output: 'Written by Maya' });
  expect(takeovers).toEqual([{ fromStep: 'final', supplied: true, at: expect.any(String) }]);
  const replay = await client.request(RunReplayRequest, { id });
  expect(replay).toMatchObject({ status: 'succeeded', divergence: null });
});

it('finishes a taken-over run after a restart in the middle, asking nothing twice', async () => {
  answer(new Set(['final']));
  await start();
  const id = await startRun('digest');
  await reaches(id, 'failed');
  answer(new Set(), { final: 60_000 });
  const before = server.requests.length;
  await client.request(RunTakeoverRequest, { id, fromStep: 'draft' });
  await waitFor('the final step to be asked', () => asked(before).includes('final'));
  await daemon!.stop('restart');
  answer(new Set());
  const restarted = server.requests.length;
  await start();
  const done = await reaches(id, 'succeeded');
  // Both halves in one comparison: a failure shows which daemon asked again.
  expect({
    beforeRestart: asked(before).slice(0, restarted - before),
    afterRestart: asked(restarted),
  }).toEqual({
    beforeRestart: ['draft', 'final'],
    afterRestart: ['final'],
  });
  expect(done.outputs).toEqual({ final: 'final' });
  expect(await readdir(join(dirs.workspace, 'outbox'))).toEqual(['digest.md']);
});

it('asks the operator again for a propose step that runs again, keeping the change applied before', async () => {
  answer(new Set(['check']));
  await start();
  const id = await startRun('note');
  const waiting = await reaches(id, 'waiting_approval');
  await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
  await reaches(id, 'failed');
  expect(await readFile(join(dirs.workspace, 'memory/accounts/acme.md'), 'utf8')).toBe('text');

  answer(new Set());
  await client.request(RunTakeoverRequest, { id, fromStep: 'text' });
  const again = await reaches(id, 'waiting_approval');
  expect(again.waitingFor).not.toBe(waiting.waitingFor);
  expect(again.waitingFor).toMatch(/\.t1$/);
  const { approvals } = await client.request(ApprovalsListRequest, {});
  expect(approvals.map((p) => p.id)).toContain(again.waitingFor);
  await client.request(ApprovalApproveRequest, { id: again.waitingFor! });
  await reaches(id, 'succeeded');
});

it('takes a cancelled run over, and refuses what cannot be taken over, in words', async () => {
  answer(new Set(), { draft: 60_000 });
  await start();
  const id = await startRun('digest');
  await waitFor('the draft to be asked', () => asked().includes('draft'));
  const refuseRunning = client.request(RunTakeoverRequest, { id, fromStep: 'draft' });
  await expect(refuseRunning).rejects.toThrow(/only a failed, cancelled or budget_exceeded run/);
  await client.request(RunCancelRequest, { id });
  await reaches(id, 'cancelled');

  await expect(client.request(RunTakeoverRequest, { id, fromStep: 'nope' })).rejects.toThrow(
    /"nope" is not a step of digest .*\(steps: facts, draft, final, save\)/,
  );
  await expect(client.request(RunTakeoverRequest, { id, fromStep: 'final' })).rejects.toThrow(
    /step "draft" comes before "final" and did not end.*take the run over from "draft"/,
  );
  await expect(client.request(RunTakeoverRequest, { id: 'no-such-run', fromStep: 'draft' })).rejects.toThrow(
    /no run "no-such-run"/,
  );

  answer(new Set());
  // Asked twice at once (two windows): the run is taken over once.
  const both = await Promise.allSettled([
    client.request(RunTakeoverRequest, { id, fromStep: 'draft' }),
    client.request(RunTakeoverRequest, { id, fromStep: 'draft' }),
  ]);
  expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  await reaches(id, 'succeeded');
  expect((await client.request(RunGetRequest, { id })).takeovers).toHaveLength(1);
  await expect(client.request(RunTakeoverRequest, { id, fromStep: 'draft' })).rejects.toThrow(
    /run ".*" is succeeded: only a failed, cancelled or budget_exceeded run can be taken over/,
  );
});
