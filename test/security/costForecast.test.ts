/**
 * The cost forecast cannot be talked down, and cannot stall the daemon: rows planted in the run
 * store (a cloned workspace with a cheap-looking history) are gone once the daemon projects the
 * sealed journals again, so a dear runbook still waits above `approvals.costAbove`; a history of
 * thousands of runs is read only as far as its newest 200, quickly; damaged cost values
 * count as nothing rather than breaking the forecast; a runbook name from a client is only ever a
 * name, never a path.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  COST_GATE_STEP,
  FORECAST_HISTORY_LIMIT,
  RunForecastRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { forecastCost } from '../../daemon/src/conductor/costForecast';
import { TraceStore } from '../../daemon/src/conductor/traceStore';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { runReaches, runToEnd, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let running: InProcessDaemon | null = null;
let client: InProcessClient;

async function start(): Promise<void> {
  running = await startTrustedDaemon(dirs.workspace);
  client = running.client;
}

async function stop(): Promise<void> {
  await running?.daemon.stop('test');
  running = null;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  // 100 input and 10 output tokens at 10 and 20 $/MTok: $0.0012 a run.
  server.respondWith(() => ({ content: 'ok', usage: { prompt_tokens: 100, completion_tokens: 10 } }));
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
approvals:
  costAbove: 0.001
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 10, outputUsdPerMTok: 20 }
`,
  );
  await writeNote(
    dirs.workspace,
    'runbooks/ask.yaml',
    'apiVersion: keel/v1\nname: ask\nrole: Analyst\ndescription: One call.\nbudget: { maxUsd: 0.0009 }\n' +
      'steps:\n  - { id: a, type: llm, prompt: Hi., maxOutputTokens: 10 }\n',
  );
});
afterEach(async () => {
  await stop();
  await server.close();
  await dirs.cleanup();
});

it('a cheap history planted in the run store does not let a dear runbook skip the wait', async () => {
  // A budget under costAbove: the first run starts at once, and costs $0.0012 (the budget check
  // lets a call through when its input is unknown).
  await start();
  const first = await runToEnd(client, 'ask');
  await stop();
  // The operator raises the budget; someone plants a thousand free runs and zeroes the real one.
  await writeNote(
    dirs.workspace,
    'runbooks/ask.yaml',
    'apiVersion: keel/v1\nname: ask\nrole: Analyst\ndescription: One call.\nbudget: { maxUsd: 1 }\n' +
      'steps:\n  - { id: a, type: llm, prompt: Hi., maxOutputTokens: 10 }\n',
  );
  const instance = await DuckDBInstance.create(join(dirs.workspace, '.keel', 'runs.duckdb'));
  const db = await instance.connect();
  await db.run(
    `INSERT INTO runs SELECT 'planted-' || i, 'ask', 'succeeded', now(), now(), 0, 0, 1, NULL FROM range(1000) t(i)`,
  );
  await db.run('UPDATE runs SET cost_usd = 0 WHERE id = $1', [first.id]);
  db.closeSync();
  instance.closeSync();

  await start();
  const forecast = await client.request(RunForecastRequest, { runbook: 'ask' });
  expect(forecast).toMatchObject({ runs: 1, basis: 'history', waits: true });
  expect(forecast.p95Usd).toBeCloseTo(first.costUsd, 8);
  expect(first.costUsd).toBeGreaterThan(0.001);
  const held: RunSummary = await client
    .request(RunStartRequest, { runbook: 'ask', inputs: {} })
    .then((run) => runReaches(client, run.id, 'waiting_operator'));
  expect(held.waitingFor).toBe(COST_GATE_STEP);
  expect(server.requests).toHaveLength(1);
});

it('a name that is a path is refused with the runbook it could not find', async () => {
  await start();
  await expect(client.request(RunForecastRequest, { runbook: '../keel' })).rejects.toThrow(/\.\.\/keel/);
  await expect(client.request(RunForecastRequest, { runbook: "ask' OR 1=1 --" })).rejects.toThrow();
});

it('reads only the newest runs of a long history, quickly, and counts damaged costs as nothing', async () => {
  const store = await TraceStore.open(join(dirs.workspace, 'history.duckdb'), (m) => console.warn(m));
  try {
    const base = Date.parse('2026-01-01T00:00:00Z');
    const total = 5_000;
    for (let i = 0; i < total; i++) {
      const at = new Date(base + i * 60_000).toISOString();
      // The newest runs cost $1; every older one $1,000.
      const costUsd = i >= total - FORECAST_HISTORY_LIMIT ? 1 : 1000;
      store.saveRun(summary(`r${i}`, at, costUsd));
      // Written as runs end, a few hundred at a time (one batch of thousands would pass DuckDB's 32 MB).
      if (i % 500 === 499) await store.flushed();
    }
    await store.flushed();
    const started = performance.now();
    const history = await store.costHistory('ask', 'fast', FORECAST_HISTORY_LIMIT);
    const ms = performance.now() - started;
    console.info(`forecast over ${total} runs: ${ms.toFixed(0)} ms`);
    expect(history).toEqual({ runs: FORECAST_HISTORY_LIMIT, p50: 1, p95: 1 });
    expect(ms).toBeLessThan(2_000);
  } finally {
    await store.close();
  }
  const damaged = forecastCost({
    runbook: 'ask',
    tier: 'fast',
    budgetUsd: 0.5,
    costAboveUsd: 0.1,
    history: { runs: 3, p50: Number.NaN, p95: -5 },
  });
  expect(damaged).toMatchObject({ p50Usd: 0, p95Usd: 0, expectedUsd: 0, waits: false });
});

function summary(id: string, at: string, costUsd: number): RunSummary {
  return {
    id,
    runbook: 'ask',
    status: 'succeeded',
    inputs: {},
    startedAt: at,
    endedAt: at,
    currentStep: 'a',
    stepsDone: 1,
    stepsTotal: 1,
    costUsd,
    tokens: 1,
    error: null,
    escalation: null,
    waitingFor: null,
    outputs: null,
  };
}
