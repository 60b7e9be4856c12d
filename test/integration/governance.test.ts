/**
 * Governance in a real daemon against the test model server: a quota stops the next run and not
 * the one in flight; breakers open on an endpoint and on a runbook; the emergency stop halts a run
 * blocked in a model call within a second, survives a restart, and resume lets the run finish;
 * the metrics report adds it all up from DuckDB.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ControlStateRequest,
  EmergencyStopRequest,
  MetricsReportRequest,
  ResumeRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

const RUNBOOK = `apiVersion: keel/v1
name: ask
role: Analyst
description: One model call.
steps:
  - id: answer
    type: llm
    prompt: Say something.
    maxOutputTokens: 100
`;

async function configure(extra: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
  retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 20 }
${extra}`,
  );
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

async function finished(id: string): Promise<RunSummary> {
  return waitFor(`run ${id} to end`, async () => {
    const { run } = await client.request(RunGetRequest, { id });
    return run.endedAt ? run : null;
  });
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', RUNBOOK);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('stops the next run of an agent over its quota, not the one in flight', async () => {
  // 1,000 $/MTok: 300 tokens cost $0.30; the quota is $0.50 a day for the role.
  await configure('quotas:\n  - { agent: Analyst, period: day, maxUsd: 0.5 }\n');
  await start();
  server.enqueue({ content: 'one', usage: { prompt_tokens: 200, completion_tokens: 100 } });
  const first = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  expect(await finished(first.id)).toMatchObject({ status: 'succeeded', costUsd: 0.3 });
  expect((await client.request(ControlStateRequest)).quotas).toEqual([
    expect.objectContaining({ agent: 'Analyst', spentUsd: 0.3, state: 'ok' }),
  ]);
  // The second run starts (0.3 < 0.5) and, in flight, takes the agent past its quota.
  server.enqueue({ content: 'two', usage: { prompt_tokens: 200, completion_tokens: 100 } });
  const second = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  expect(await finished(second.id)).toMatchObject({ status: 'succeeded' });
  expect((await client.request(ControlStateRequest)).quotas[0]).toMatchObject({
    spentUsd: 0.6,
    state: 'exceeded',
  });
  await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(
    /ask was not started: the daily quota of "Analyst" is used up \(\$0\.6000 of \$0\.5\)/,
  );
  expect(server.requests).toHaveLength(2);
});

it('opens the endpoint’s breaker after failures in a row, refusing calls, and a runbook’s after failed runs', async () => {
  await configure('breakers: { modelFailures: 2, runFailures: 2, coolDownSeconds: 600 }\n');
  await start();
  server.respondWith(() => ({ fault: { kind: 'status', status: 503 } }));
  const first = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  const failed = await finished(first.id);
  expect(failed.status).toBe('failed');
  expect(failed.error).toMatch(/calls are paused until .* \(circuit breaker\)/);
  expect(server.requests).toHaveLength(2); // the third attempt was refused, not sent
  const control = await client.request(ControlStateRequest);
  expect(control.breakers).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: `endpoint:${server.baseUrl}`, state: 'open' })]),
  );
  const second = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  expect((await finished(second.id)).error).toMatch(/circuit breaker/);
  expect(server.requests).toHaveLength(2);
  await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(
    /ask failed 2 times in a row; new runs are refused until .* \(circuit breaker\)/,
  );
});

it('halts a run blocked in a model call within a second, stays stopped over a restart, and resumes it', async () => {
  await configure('');
  await start();
  server.enqueue({ fault: { kind: 'hang' } });
  const run = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  await waitFor('the model call', () => server.requests.length === 1);
  const asked = performance.now();
  const state = await client.request(EmergencyStopRequest, { reason: 'runaway agent' });
  expect(performance.now() - asked).toBeLessThan(1_000);
  expect(state).toMatchObject({ stopped: true, reason: 'runaway agent' });
  expect((await client.request(RunGetRequest, { id: run.id })).run.status).toBe('queued');
  await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(
    /emergency stop since .* \(runaway agent\): no run starts until "keel resume"/,
  );

  await daemon!.stop('restart');
  await start();
  expect((await client.request(ControlStateRequest)).stopped).toBe(true);
  await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(
    /emergency stop/,
  );
  expect(server.requests).toHaveLength(1); // the halted run did not go on by itself

  server.enqueue({ content: 'done' });
  await client.request(ResumeRequest);
  expect(await finished(run.id)).toMatchObject({ status: 'succeeded', outputs: {} });
  expect(server.requests).toHaveLength(2);
});

it('reports per agent: runs, rates, latency, cost, tokens, throughput', async () => {
  await configure('');
  await start();
  server.enqueue(
    { content: 'a', usage: { prompt_tokens: 10, completion_tokens: 5 } },
    { content: 'b', usage: { prompt_tokens: 10, completion_tokens: 5 } },
    { fault: { kind: 'status', status: 400 } },
  );
  for (let i = 0; i < 3; i++)
    await finished((await client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).id);
  const report = await client.request(MetricsReportRequest, {});
  expect(report.agents).toEqual([
    expect.objectContaining({
      agent: 'ask',
      role: 'Analyst',
      runs: 3,
      succeeded: 2,
      failed: 1,
      successRate: 0.6667,
      errorRate: 0.3333,
      tokens: 30,
      costUsd: 0.03,
      reworkRate: null,
    }),
  ]);
  expect(report.agents[0]!.p50Ms).toBeGreaterThan(0);
  expect(report.agents[0]!.p95Ms).toBeGreaterThanOrEqual(report.agents[0]!.p50Ms!);
  expect(report.agents[0]!.throughputPerHour).toBeGreaterThan(0);
  expect(report.spendByDay).toEqual([expect.objectContaining({ agent: 'ask', costUsd: 0.03, tokens: 30 })]);
  await expect(client.request(MetricsReportRequest, { since: 'last week' })).rejects.toThrow(
    /since "last week" is not a date/,
  );
});
