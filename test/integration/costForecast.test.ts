/**
 * Cost forecasts in a real daemon with DuckDB and the test model server: p50/p95 of a runbook's
 * past runs at its tier, the budget without history, and keel.yaml's `approvals.costAbove`
 * making a run wait for the operator before its first step (continue runs it, stop runs nothing).
 * `keel run` prints the forecast line first: before anything runs when the cost makes the run wait.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  COST_GATE_STEP,
  RunCheckpointRequest,
  RunForecastRequest,
  RunGetRequest,
  RunReplayRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { startTrustedDaemon, runReaches, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let running: InProcessDaemon | null = null;
let client: InProcessClient;

/** One model call; at 1,000 $/MTok every token costs $0.001. */
const runbook = (name: string, extra = ''): string => `apiVersion: keel/v1
name: ${name}
role: Analyst
description: One model call.
budget: { maxUsd: 5 }
${extra}steps:
  - id: answer
    type: llm
    prompt: Say something.
    maxOutputTokens: 10
`;

async function configure(approvals: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
    strong: { model: m2, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
${approvals}`,
  );
}

async function start(): Promise<void> {
  running = await startTrustedDaemon(dirs.workspace);
  client = running.client;
}

async function finished(id: string): Promise<RunSummary> {
  return waitFor(`run ${id} to end`, async () => {
    const { run } = await client.request(RunGetRequest, { id });
    return run.endedAt ? run : null;
  });
}

/** Runs `name` once per cost, each answer priced at that many dollars. */
async function history(name: string, costs: number[]): Promise<void> {
  for (const cost of costs) {
    server.enqueue({
      content: 'ok',
      usage: { prompt_tokens: Math.round(cost * 1000), completion_tokens: 0 },
    });
    const run = await client.request(RunStartRequest, { runbook: name, inputs: {} });
    expect(await finished(run.id)).toMatchObject({ status: 'succeeded', costUsd: cost });
  }
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', runbook('ask'));
});
afterEach(async () => {
  await running?.daemon.stop('test');
  running = null;
  await server.close();
  await dirs.cleanup();
});

it('forecasts p50 and p95 from the runbook’s past runs at its tier, and the budget without history', async () => {
  await configure('');
  await start();
  expect(await client.request(RunForecastRequest, { runbook: 'ask' })).toMatchObject({
    runs: 0,
    p50Usd: null,
    p95Usd: null,
    basis: 'budget',
    expectedUsd: 5,
    costAboveUsd: null,
    waits: false,
    text: 'forecast: no history at tier fast, so up to the budget, $5.00',
  });
  await history('ask', [0.01, 0.02, 0.03, 0.04, 0.05]);
  const forecast = await client.request(RunForecastRequest, { runbook: 'ask' });
  // DuckDB's quantile_cont: p50 is the middle run, p95 lies 80% of the way from $0.04 to $0.05.
  expect(forecast).toMatchObject({ runs: 5, tier: 'fast', basis: 'history', waits: false });
  expect(forecast.p50Usd).toBeCloseTo(0.03, 8);
  expect(forecast.p95Usd).toBeCloseTo(0.048, 8);
  expect(forecast.text).toBe(
    'forecast $0.0300 (p50) to $0.0480 (p95) from 5 past runs at tier fast; budget $5.00',
  );

  // The runbook moved to another tier: its history there is empty, the budget is the forecast.
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', runbook('ask', 'model: { tier: strong }\n'));
  await waitFor('the runbook at tier strong', async () => {
    const moved = await client.request(RunForecastRequest, { runbook: 'ask' });
    return moved.tier === 'strong' ? moved : null;
  }).then((moved) => expect(moved).toMatchObject({ runs: 0, basis: 'budget', expectedUsd: 5 }));
});

it('holds a run whose p95 is above approvals.costAbove before its first step: continue runs it, stop runs nothing', async () => {
  await configure('approvals:\n  costAbove: 0.045\n');
  await start();
  // No history and a budget of $5 above $0.045: the cautious answer is to ask.
  expect(await client.request(RunForecastRequest, { runbook: 'ask' })).toMatchObject({ waits: true });
  const first = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  const held = await runReaches(client, first.id, 'waiting_operator');
  expect(held.waitingFor).toBe(COST_GATE_STEP);
  expect(server.requests).toHaveLength(0);
  const trace = await client.request(RunGetRequest, { id: first.id });
  expect(trace.steps.find((s) => s.id === 'answer')?.status).toBe('pending');
  const journal = await readFile(join(dirs.workspace, '.keel', 'runs', `${first.id}.jsonl`), 'utf8');
  expect(journal).toContain('is above keel.yaml');
  expect(journal).toContain(
    'approvals.costAbove ($0.0450): forecast: no history at tier fast, so up to the budget, $5.00',
  );

  server.enqueue({ content: 'ok', usage: { prompt_tokens: 10, completion_tokens: 0 } });
  await client.request(RunCheckpointRequest, { id: first.id, action: 'continue' });
  expect(await finished(first.id)).toMatchObject({ status: 'succeeded', costUsd: 0.01 });
  expect(server.requests).toHaveLength(1);
  const passed = await client.request(RunGetRequest, { id: first.id });
  expect(passed.steps.map((s) => [s.id, s.type, s.status])).toEqual([
    ['answer', 'llm', 'succeeded'],
    [COST_GATE_STEP, 'checkpoint', 'succeeded'],
  ]);
  // The wait is in the journal: a replay takes the operator's answer from it and matches.
  expect(await client.request(RunReplayRequest, { id: first.id })).toMatchObject({
    status: 'succeeded',
    divergence: null,
  });

  // With history under the line, runs no longer wait.
  await history('ask', [0.01, 0.02, 0.03, 0.04]);
  expect(await client.request(RunForecastRequest, { runbook: 'ask' })).toMatchObject({
    runs: 5,
    waits: false,
  });

  // One dear run takes p95 over the line: the next run waits, and a stop ends it with no step run.
  await history('ask', [0.2]);
  const forecast = await client.request(RunForecastRequest, { runbook: 'ask' });
  expect(forecast.waits).toBe(true);
  expect(forecast.text).toMatch(/from 6 past runs .*above approvals.costAbove \(\$0\.0450\): the run waits/);
  const sent = server.requests.length;
  const second = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  await runReaches(client, second.id, 'waiting_operator');
  await client.request(RunCheckpointRequest, { id: second.id, action: 'stop' });
  expect(await finished(second.id)).toMatchObject({ status: 'cancelled', stepsDone: 0 });
  expect(server.requests).toHaveLength(sent);
  const stopped = await client.request(RunGetRequest, { id: second.id });
  expect(stopped.steps.map((s) => [s.id, s.status])).toEqual([
    ['answer', 'pending'],
    [COST_GATE_STEP, 'skipped'],
  ]);
});

it('keel run prints the forecast line before it starts the run, and says the run waits', async () => {
  await configure('approvals:\n  costAbove: 0.1\n');
  const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });
  const waiting = await keel(['run', 'ask', '--yes']);
  expect(waiting.stdout.split('\n')[0]).toBe(
    'ask: forecast: no history at tier fast, so up to the budget, $5.00; above approvals.costAbove ($0.1000): ' +
      'the run waits for your decision before its first step',
  );
  expect(waiting.stdout).toMatch(/waiting_operator|waits/);
  expect(server.requests).toHaveLength(0);

  await writeNote(dirs.workspace, 'runbooks/ask.yaml', runbook('ask').replace('maxUsd: 5', 'maxUsd: 0.05'));
  server.enqueue({ content: 'ok', usage: { prompt_tokens: 20, completion_tokens: 0 } });
  const ran = await keel(['run', 'ask', '--yes', '--json']);
  expect(ran.code, ran.stderr).toBe(0);
  expect(ran.stderr).toContain(
    'ask: forecast: no history at tier fast, so up to the budget, $0.0500; within approvals.costAbove ($0.1000)',
  );
  expect(JSON.parse(ran.stdout)).toMatchObject({ status: 'succeeded', costUsd: 0.02 });
  server.enqueue({ content: 'ok', usage: { prompt_tokens: 20, completion_tokens: 0 } });
  const again = await keel(['run', 'ask', '--yes', '--json']);
  expect(again.stderr).toContain('ask: forecast $0.0200 (p50) to $0.0200 (p95) from 1 past run at tier fast');
});

it('a run waiting for its cost keeps waiting across a daemon restart, and goes on when continued', async () => {
  await configure('approvals:\n  costAbove: 0.045\n');
  await start();
  const run = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  await runReaches(client, run.id, 'waiting_operator');
  await running!.daemon.stop('test');
  await start();
  expect(await runReaches(client, run.id, 'waiting_operator')).toMatchObject({ waitingFor: COST_GATE_STEP });
  expect(server.requests).toHaveLength(0);
  server.enqueue({ content: 'ok', usage: { prompt_tokens: 10, completion_tokens: 0 } });
  await client.request(RunCheckpointRequest, { id: run.id, action: 'continue' });
  expect(await finished(run.id)).toMatchObject({ status: 'succeeded', stepsDone: 1 });
  expect(server.requests).toHaveLength(1);
});
