/**
 * Runs of runbooks in a real daemon (in this process), against the test model server through the
 * real openai SDK: outputs, traces and spend; retries and their schedule; the budget stop before
 * the call; structured output re-asked; the agent's allow-list; cancel; replay; secrets redacted.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RunCancelRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  RunbooksListRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { trust } from '../helpers/trust';
import { writeCompany, writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KEY_ENV = 'KEEL_TEST_MODEL_KEY';
const KEY = 'sk-conductor-test-secret';

/** What the model server received, as far as these tests read it. */
interface ChatBody {
  stream: boolean;
  messages: unknown[];
  response_format: { type: string };
  tools: { function: { name: string } }[];
}
const body = (index: number): ChatBody => server.requests[index]!.body as ChatBody;

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon;
let client: InProcessClient;
let logs: string;

async function writeConfig(extra = ''): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl}, apiKeyEnv: ${KEY_ENV} }
  tiers:
    fast: { model: small-1, inputUsdPerMTok: 1, outputUsdPerMTok: 2 }
    strong: { model: large-1, inputUsdPerMTok: 10, outputUsdPerMTok: 20 }
  retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 400 }
  timeoutSeconds: 5
${extra}`,
  );
}

async function startDaemon(): Promise<void> {
  logs = '';
  const log = createLogger({ level: 'debug', write: (line: string) => (logs += line) });
  daemon = await Daemon.start({ workspace: dirs.workspace, mode: 'daemon', log });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[KEY_ENV] = KEY;
  server = await ModelServer.start({ apiKey: KEY });
  await writeCompany(dirs.workspace);
  await writeConfig();
});
afterEach(async () => {
  await daemon?.stop('test over');
  await server.close();
  delete process.env[KEY_ENV];
  await dirs.cleanup();
});

async function runbook(name: string, yaml: string): Promise<void> {
  await writeNote(dirs.workspace, `runbooks/${name}.yaml`, yaml);
}

/** Starts a run and resolves with its summary once it has finished. */
async function run(name: string, inputs: Record<string, string> = {}): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook: name, inputs });
  return waitFor(
    `run ${started.id} to finish`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return trace.run.endedAt ? trace.run : null;
    },
    20_000,
  );
}

const WELCOME = `apiVersion: keel/v1
name: welcome
role: Customer onboarding lead
description: Turns a customer note into a welcome plan and drafts the welcome email.
inputs:
  customer: { type: string, description: Customer name }
steps:
  - id: context
    type: retrieve
    query: "{{ inputs.customer }} customer"
    k: 2
  - id: plan
    type: llm
    system: You write short onboarding plans.
    prompt: |
      Customer: {{ inputs.customer }}
      Notes: {{ steps.context.output[0].text }}
      Write a three-line plan.
  - id: email
    type: connector
    use: fs.outbox@1
    with:
      path: "welcome-{{ inputs.customer | downcase }}.md"
      content: "{{ steps.plan.output }}"
outputs:
  plan: { value: "{{ steps.plan.output }}" }
success:
  - check: "steps.plan.output contains 'Week'"
    description: the plan is laid out by week
`;

/** Starts the welcome runbook with a model that stalls or hangs, once the model has the call. */
async function startStuck(kind: 'stall' | 'hang'): Promise<RunSummary> {
  await startDaemon();
  await runbook('welcome', WELCOME);
  server.enqueue({ fault: { kind } });
  const started = await client.request(RunStartRequest, { runbook: 'welcome', inputs: { customer: 'Acme' } });
  await waitFor('the model call', () => server.requests.length === 1);
  return started;
}

describe('a run of a runbook', () => {
  it('retrieves, asks the model, writes the outbox, and records a trace with tokens and cost', async () => {
    await startDaemon();
    await runbook('welcome', WELCOME);
    server.enqueue({
      content: 'Week 1: kickoff.\nWeek 2: training.\nWeek 3: review.',
      usage: { prompt_tokens: 1000, completion_tokens: 500 },
    });
    const summary = await run('welcome', { customer: 'Acme' });

    expect(summary).toMatchObject({ status: 'succeeded', stepsDone: 3, stepsTotal: 3, tokens: 1500 });
    expect(summary.costUsd).toBeCloseTo((1000 * 1 + 500 * 2) / 1e6, 10);
    expect(summary.outputs?.plan).toContain('Week 2: training.');
    expect(await readFile(join(dirs.workspace, 'outbox/welcome-acme.md'), 'utf8')).toContain(
      'Week 1: kickoff.',
    );
    // The prompt carried the retrieved memory, streamed through the real SDK.
    expect(body(0).stream).toBe(true);
    expect(JSON.stringify(body(0).messages)).toContain('Rotterdam');

    const trace = await client.request(RunGetRequest, { id: summary.id });
    expect(trace.steps.map((s) => [s.id, s.status])).toEqual([
      ['context', 'succeeded'],
      ['plan', 'succeeded'],
      ['email', 'succeeded'],
    ]);
    expect(trace.steps[0]!.retrieved[0]!.path).toBe('memory/customers/acme.md');
    expect(trace.steps[1]!.modelCalls[0]).toMatchObject({
      tier: 'fast',
      model: 'small-1',
      inputTokens: 1000,
      outputTokens: 500,
      outcome: 'ok',
    });

    const conductor = await daemon.conductor.get();
    const rows = await conductor.modelCalls(summary.id);
    expect(rows).toEqual([
      expect.objectContaining({
        stepId: 'plan',
        tier: 'fast',
        model: 'small-1',
        inputTokens: 1000,
        outputTokens: 500,
        outcome: 'ok',
      }),
    ]);
    expect(rows[0]!.costUsd).toBeCloseTo(0.002, 10);
  });

  it('lists runbooks with the problems of the broken ones, located', async () => {
    await startDaemon();
    await runbook('welcome', WELCOME);
    await runbook(
      'broken',
      WELCOME.replace('name: welcome', 'name: broken').replace('    k: 2', '    k: 2\n    depth: 3'),
    );
    const { runbooks } = await client.request(RunbooksListRequest);
    const broken = runbooks.find((r) => r.name === 'broken')!;
    expect(broken.problems[0]).toMatchObject({
      path: 'runbooks/broken.yaml',
      line: 12,
      message: expect.stringMatching(/depth/),
    });
    expect(runbooks.find((r) => r.name === 'welcome')!.inputs).toEqual([
      {
        name: 'customer',
        type: 'string',
        description: 'Customer name',
        required: true,
        default: null,
        enum: null,
      },
    ]);
    await expect(client.request(RunStartRequest, { runbook: 'broken', inputs: {} })).rejects.toThrow(
      /runbooks\/broken\.yaml:12:\d+/,
    );
    await expect(client.request(RunStartRequest, { runbook: 'welcome', inputs: {} })).rejects.toThrow(
      /needs the input "customer"/,
    );
  });

  it('retries 429 (honouring Retry-After), 500 and a dropped stream, then succeeds, journaling each attempt', async () => {
    await startDaemon();
    await runbook('welcome', WELCOME);
    server.enqueue(
      { fault: { kind: 'status', status: 429, retryAfterMs: 600 } },
      { fault: { kind: 'status', status: 500 } },
      { fault: { kind: 'drop' } },
      { content: 'Week 1: all good.' },
    );
    const summary = await run('welcome', { customer: 'Acme' });
    expect(summary.status).toBe('succeeded');
    const calls = (await client.request(RunGetRequest, { id: summary.id })).steps[1]!.modelCalls;
    expect(calls.map((c) => [c.attempt, c.outcome])).toEqual([
      [1, 'http_429'],
      [2, 'http_500'],
      [3, 'connection'],
      [4, 'ok'],
    ]);
    const at = server.requests.map((r) => r.receivedAt);
    // Retry-After wins over the backoff; then 100 ms and 200 ms ceilings with equal jitter.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(590);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(45);
    expect(at[2]! - at[1]!).toBeLessThan(400);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(95);
    expect(at[3]! - at[2]!).toBeLessThan(600);
  });

  it('gives up after maxAttempts with the last failure, and never retries a 400', async () => {
    await startDaemon();
    await runbook('welcome', WELCOME);
    server.enqueue(...Array.from({ length: 4 }, () => ({ fault: { kind: 'status' as const, status: 503 } })));
    const failed = await run('welcome', { customer: 'Acme' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/step "plan" failed: the model endpoint answered 503/);
    expect(failed.escalation).toMatch(/welcome needs the operator/);
    expect(server.requests).toHaveLength(4);

    server.enqueue({ fault: { kind: 'status', status: 400, message: 'bad request' } });
    const rejected = await run('welcome', { customer: 'Acme' });
    expect(rejected.status).toBe('failed');
    expect(server.requests).toHaveLength(5);
  });

  it('times out a stream that stalls after its headers, and retries it', async () => {
    await writeConfig().then(() => writeFile(join(dirs.workspace, 'keel.yaml'), '', { flag: 'a' }));
    const config = await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8');
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      config.replace('timeoutSeconds: 5', 'timeoutSeconds: 0.5'),
    );
    await startDaemon();
    await runbook('welcome', WELCOME);
    server.enqueue({ fault: { kind: 'stall' } }, { content: 'Week 1: late but fine.' });
    const summary = await run('welcome', { customer: 'Acme' });
    expect(summary.status).toBe('succeeded');
    const calls = (await client.request(RunGetRequest, { id: summary.id })).steps[1]!.modelCalls;
    expect(calls.map((c) => c.outcome)).toEqual(['timeout', 'ok']);
  });

  it('asks the model when less of the wall budget is left than timeoutSeconds', async () => {
    await startDaemon();
    // 4 s of wall time against a 5 s timeout: the call's timeout is what the budget has left.
    await runbook('welcome', WELCOME.replace('steps:', 'budget: { maxWallSeconds: 4 }\nsteps:'));
    server.enqueue({ content: 'Week 1: kickoff.' });
    const summary = await run('welcome', { customer: 'Acme' });
    expect(summary.status).toBe('succeeded');
    expect(server.requests).toHaveLength(1);
  });

  it('records a call cancelled mid-answer as cancelled, not as a dropped connection', async () => {
    const started = await startStuck('stall');
    // The first chunk of the answer reaches the daemon.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await client.request(RunCancelRequest, { id: started.id })).status).toBe('cancelled');
    const calls = (await client.request(RunGetRequest, { id: started.id })).steps[1]!.modelCalls;
    expect(calls.map((c) => c.outcome)).toEqual(['cancelled']);
  });

  it('stops before a call that could pass the budget, without making it', async () => {
    await startDaemon();
    await runbook(
      'welcome',
      WELCOME.replace('steps:', 'budget: { maxUsd: 0.0005 }\nsteps:').replace(
        'Write a three-line plan.',
        'Write a three-line plan.\n      maxOutputTokens: 1024',
      ),
    );
    const summary = await run('welcome', { customer: 'Acme' });
    expect(summary.status).toBe('budget_exceeded');
    expect(summary.error).toMatch(/could cost up to \$0\.00\d+.*budget\.maxUsd \(\$0\.0005\)/);
    expect(server.requests).toHaveLength(0);
    expect(summary.stepsDone).toBe(1);
  });

  it('re-asks once for structured output that does not match the schema', async () => {
    await startDaemon();
    await runbook(
      'score',
      `apiVersion: keel/v1
name: score
role: Analyst
description: Scores a lead.
steps:
  - id: rate
    type: llm
    prompt: Rate the lead Acme from 1 to 5.
    schema:
      type: object
      properties: { score: { type: integer, minimum: 1, maximum: 5 }, why: { type: string } }
      required: [score, why]
outputs:
  score: { value: "{{ steps.rate.output.score }}", schema: { type: integer } }
success:
  - "outputs.score >= 3"
`,
    );
    server.enqueue(
      { content: '{"score": 9, "why": "big"}' },
      { content: '```json\n{"score": 4, "why": "fits"}\n```' },
    );
    const summary = await run('score');
    expect(summary).toMatchObject({ status: 'succeeded', outputs: { score: 4 } });
    expect(body(0).response_format.type).toBe('json_schema');
    expect(JSON.stringify(body(1).messages)).toMatch(/not valid: score/);

    server.enqueue({ content: '{"score": 2, "why": "small"}' });
    const low = await run('score');
    expect(low.status).toBe('failed');
    expect(low.error).toBe('success criterion not met: outputs.score >= 3');
  });

  it('lets an agent use only its allowed tools, and writes its outbox draft once', async () => {
    await startDaemon();
    await runbook(
      'followup',
      `apiVersion: keel/v1
name: followup
role: Sales
description: Drafts a follow-up.
steps:
  - id: draft
    type: agent
    goal: Draft a follow-up for Northwind.
    tools: [memory.search, fs.outbox@1]
    maxIterations: 4
outputs:
  answer: { value: "{{ steps.draft.output.answer }}" }
`,
    );
    server.enqueue(
      { toolCalls: [{ name: 'memory_search', arguments: { query: 'Northwind onboarding' } }] },
      {
        toolCalls: [{ name: 'propose_change', arguments: { path: 'keel.yaml', content: 'x', summary: 'y' } }],
      },
      { toolCalls: [{ name: 'outbox_write', arguments: { path: 'northwind.md', content: 'Hi Sam' } }] },
      { content: 'Drafted.' },
    );
    const summary = await run('followup');
    expect(summary).toMatchObject({ status: 'succeeded', outputs: { answer: 'Drafted.' } });
    const second = JSON.stringify(body(1).messages);
    expect(second).toContain('onboarding call with Sam');
    expect(JSON.stringify(body(2).messages)).toContain('not allowed in this step');
    expect(body(0).tools.map((t) => t.function.name)).toEqual(['memory_search', 'outbox_write']);
    expect(await readFile(join(dirs.workspace, 'outbox/northwind.md'), 'utf8')).toBe('Hi Sam');
  });

  it('cancels a run blocked in a model call that never answers', async () => {
    const started = await startStuck('hang');
    const asked = performance.now();
    const cancelled = await client.request(RunCancelRequest, { id: started.id });
    expect(performance.now() - asked).toBeLessThan(1000);
    expect(cancelled.status).toBe('cancelled');
    expect(await readdir(join(dirs.workspace, 'outbox')).catch(() => [])).toEqual([]);
  });

  it('replays a finished run with no model calls, then names the step whose prompt changed', async () => {
    await startDaemon();
    await runbook('welcome', WELCOME);
    server.enqueue({ content: 'Week 1: kickoff.' });
    const summary = await run('welcome', { customer: 'Acme' });
    const requests = server.requests.length;
    const same = await client.request(RunReplayRequest, { id: summary.id });
    expect(same).toMatchObject({ status: 'succeeded', modelCalls: 0, sideEffects: 0, divergence: null });

    await runbook('welcome', WELCOME.replace('Write a three-line plan.', 'Write a five-line plan.'));
    // The run keeps the version it started with; replaying the file as it is now shows the edit.
    const kept = await client.request(RunReplayRequest, { id: summary.id });
    expect(kept.divergence).toBeNull();
    const changed = await client.request(RunReplayRequest, { id: summary.id, runbook: 'current' });
    expect(changed.divergence).toMatchObject({ stepId: 'plan', kind: 'request' });
    expect(changed.divergence!.message).toMatch(/runbook changed since this run/);
    expect(server.requests.length).toBe(requests);
  });

  it('keeps the API key out of journals, traces and logs', async () => {
    await startDaemon();
    await runbook(
      'welcome',
      WELCOME.replace('Write a three-line plan.', `Write a plan. Debug: ${'{{'} inputs.customer ${'}}'}`),
    );
    server.enqueue({ content: 'Week 1: kickoff.' });
    const summary = await run('welcome', { customer: KEY });
    const journal = await readFile(join(dirs.workspace, '.keel/runs', `${summary.id}.jsonl`), 'utf8');
    expect(journal).not.toContain(KEY);
    expect(journal).toContain('[redacted]');
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(logs).not.toContain(KEY);
  });
});
