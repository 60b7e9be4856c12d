/**
 * The trace store is a batched projection of the journals: `keel show`, `keel report` and the
 * dashboard's figures must be what the store before it (kept verbatim in legacyTraceStore.ts) gives
 * for the same runs, live, after a restart, rebuilt from the journals when the store is gone, and
 * caught up when a crash cut its last batch off. A real daemon, model server, git and DuckDB.
 */
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  MetricsReportRequest,
  RunGetRequest,
  RunStartRequest,
  RunsListRequest,
  type RunSummary,
} from '@keel/schemas';
import { type MetricsReport } from '@keel/schemas/src/webviews';
import {
  agentRows,
  latencySeries,
  localDay,
  rateSeries,
  spendSeries,
} from '../../extension/src/dashboard/dashboardModel';
import { describeTrace } from '../../daemon/src/cli/runFormat';
import { journalIds, journalPath, readJournal } from '../../daemon/src/conductor/journal';
import { summarize } from '../../daemon/src/conductor/runTrace';
import { Daemon } from '../../daemon/src/daemon';
import { metricsReport } from '../../daemon/src/governance/metrics';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { LegacyTraceStore } from '../helpers/legacyTraceStore';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

/** A span holding every run of the test, as `keel report --since --until` gives it. */
const SPAN = { since: '2000-01-01', until: '2100-01-01' };

const ASK = `apiVersion: keel/v1
name: ask
role: Analyst
description: Three model calls, the second tried twice.
steps:
  - { id: a, type: llm, prompt: Start. }
  - { id: b, type: llm, prompt: "Go on from {{ steps.a.output }}.", retry: { maxAttempts: 2, backoffSeconds: 0 } }
  - { id: c, type: llm, prompt: Sum up. }
`;

const RENEWAL = `apiVersion: keel/v1
name: renewal
role: Account manager
description: Proposes a line in the customer's note.
steps:
  - { id: draft, type: llm, prompt: Write the renewal line. }
  - id: update
    type: propose
    path: memory/customers/acme.md
    content: "# Acme\\n\\n{{ steps.draft.output }}\\n"
    summary: Acme renewal date
    reasoning: The contract says April.
`;

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

async function until(id: string, done: (run: RunSummary) => boolean): Promise<RunSummary> {
  return waitFor(
    `run ${id}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return done(run) ? run : null;
    },
    30_000,
  );
}

/** Everything a user reads about the runs: list, `keel show` of each, `keel report`, model calls. */
async function figures(): Promise<unknown> {
  const { runs } = await client.request(RunsListRequest, { limit: 100 });
  const shown = [];
  for (const run of [...runs].sort((a, b) => a.id.localeCompare(b.id))) {
    const trace = await client.request(RunGetRequest, { id: run.id });
    shown.push({ trace, text: describeTrace(trace) });
  }
  const conductor = await daemon!.conductor.get();
  const report = await client.request(MetricsReportRequest, SPAN);
  return {
    runs: [...runs].sort((a, b) => a.id.localeCompare(b.id)),
    shown,
    report,
    dashboard: dashboard(report),
    modelCalls: await conductor.modelCalls(),
  };
}

/** The Dashboard's figures, as the extension draws them from the report. */
function dashboard(report: MetricsReport): unknown {
  return {
    rows: agentRows(report.agents),
    spend: spendSeries(report.spendByDay, localDay(new Date())),
    rates: rateSeries(report.agents),
    latency: latencySeries(report.agents),
  };
}

/** The report and model calls as the store before this one gives them, fed the same journals. */
async function legacyFigures(): Promise<{ report: MetricsReport; modelCalls: unknown }> {
  const legacy = await LegacyTraceStore.open(join(dirs.runtime, 'legacy.duckdb'), () => undefined);
  const sealer = new StateSeal(dirs.workspace);
  const runsDir = join(dirs.workspace, '.keel', 'runs');
  const roles = new Map([
    ['ask', 'Analyst'],
    ['renewal', 'Account manager'],
  ]);
  try {
    for (const id of await journalIds(runsDir)) {
      const records = await readJournal(journalPath(runsDir, id), sealer);
      for (const record of records) legacy.record(id, record);
      legacy.saveRun(summarize(records, 0, null));
    }
    for (const proposal of (await daemon!.conductor.get()).approvals.list()) legacy.saveApproval(proposal);
    // The legacy store predates the actions table and lessons: its report has neither.
    const store = {
      agentMetrics: (since: string, until: string) => legacy.agentMetrics(since, until),
      spendByDay: (since: string, until: string) => legacy.spendByDay(since, until),
      connectorMetrics: () => Promise.resolve([]),
      lessonRework: () => Promise.resolve([]),
    };
    const report = await metricsReport(store, (runbook) => roles.get(runbook) ?? null, SPAN);
    return { report, modelCalls: await legacy.modelCalls() };
  } finally {
    await legacy.close();
  }
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
    fast: { model: m, inputUsdPerMTok: 10, outputUsdPerMTok: 20 }
  retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 20 }
`,
  );
  await writeNote(dirs.workspace, 'memory/customers/acme.md', '# Acme\n\nRenewal in March.\n');
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', ASK);
  await writeNote(dirs.workspace, 'runbooks/renewal.yaml', RENEWAL);
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: dirs.workspace, encoding: 'utf8' });
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

it('gives the figures the store before it gave, live, after a restart, rebuilt, and caught up after a lost batch', async () => {
  await start();
  // Succeeded (b failed once, then succeeded), failed (b failed twice), two proposals decided.
  let n = 0;
  server.respondWith(() => {
    n++;
    if (n === 2 || n === 6 || n === 7) return { fault: { kind: 'status', status: 400 } };
    return { content: `answer ${n}`, usage: { prompt_tokens: 100 + n, completion_tokens: 10 + n } };
  });
  const ok = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  expect(await until(ok.id, (r) => r.endedAt !== null)).toMatchObject({ status: 'succeeded' });
  const failed = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
  expect(await until(failed.id, (r) => r.endedAt !== null)).toMatchObject({ status: 'failed' });
  for (const approve of [true, false]) {
    const run = await client.request(RunStartRequest, { runbook: 'renewal', inputs: {} });
    const waiting = await until(run.id, (r) => r.status === 'waiting_approval');
    if (approve) await client.request(ApprovalApproveRequest, { id: waiting.waitingFor! });
    else await client.request(ApprovalRejectRequest, { id: waiting.waitingFor!, reason: 'Not April.' });
    await until(run.id, (r) => r.endedAt !== null);
  }

  const live = (await figures()) as { report: MetricsReport; dashboard: unknown; modelCalls: unknown[] };
  expect(live.report.agents).toHaveLength(2);
  expect(live.modelCalls.length).toBeGreaterThanOrEqual(8);
  const legacy = await legacyFigures();
  const withoutNewParts = {
    ...live.report,
    connectors: [],
    agents: live.report.agents.map((a) => ({ ...a, lessons: null })),
  };
  expect(withoutNewParts).toEqual(legacy.report);
  expect(live.dashboard).toEqual(dashboard(legacy.report));
  expect(live.modelCalls).toEqual(legacy.modelCalls);

  await stop();
  await start();
  expect(await figures()).toEqual(live);

  // The store is gone: rebuilt from the journals.
  await stop();
  await rm(join(dirs.workspace, '.keel', 'runs.duckdb'), { force: true });
  await rm(join(dirs.workspace, '.keel', 'runs.duckdb.wal'), { force: true });
  await start();
  expect(await figures()).toEqual(live);

  // A crash cut the last batch off: the failed run's rows never reached DuckDB.
  await stop();
  const instance = await DuckDBInstance.create(join(dirs.workspace, '.keel', 'runs.duckdb'));
  const db = await instance.connect();
  for (const table of ['steps', 'model_calls'])
    await db.run(`DELETE FROM ${table} WHERE run_id = $1`, [failed.id]);
  await db.run('DELETE FROM runs WHERE id = $1', [failed.id]);
  db.closeSync();
  instance.closeSync();
  await start();
  expect(await figures()).toEqual(live);
});
