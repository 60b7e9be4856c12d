/**
 * The run store (`.keel/runs.duckdb`) is a projection of the sealed journals, never a source: a
 * store edited by hand or planted in a cloned workspace (a run that never happened, another run's
 * spend changed, a run's rows deleted) does not change what `keel report` says once the daemon
 * starts. A real daemon, model server and DuckDB file.
 */
import { join } from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MetricsReportRequest, type RunSummary } from '@keel/schemas';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { runToEnd, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let running: InProcessDaemon | null = null;
let client: InProcessClient;

const SPAN = { since: '2000-01-01', until: '2100-01-01' };

async function start(): Promise<void> {
  running = await startTrustedDaemon(dirs.workspace);
  client = running.client;
}

async function stop(): Promise<void> {
  await running?.daemon.stop('test');
  running = null;
}

const run = (): Promise<RunSummary> => runToEnd(client, 'ask');

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  server.respondWith(() => ({ content: 'ok', usage: { prompt_tokens: 100, completion_tokens: 10 } }));
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m, inputUsdPerMTok: 10, outputUsdPerMTok: 20 }\n`,
  );
  await writeNote(
    dirs.workspace,
    'runbooks/ask.yaml',
    'apiVersion: keel/v1\nname: ask\nrole: Analyst\ndescription: One call.\nsteps:\n  - { id: a, type: llm, prompt: Hi. }\n',
  );
});
afterEach(async () => {
  await stop();
  await server.close();
  await dirs.cleanup();
});

it('reports what the journals say, whatever was planted in or edited out of the run store', async () => {
  await start();
  const [first, second] = [await run(), await run()];
  const truth = await client.request(MetricsReportRequest, SPAN);
  expect(truth.agents[0]).toMatchObject({ agent: 'ask', runs: 2, succeeded: 2 });
  await stop();

  const instance = await DuckDBInstance.create(join(dirs.workspace, '.keel', 'runs.duckdb'));
  const db = await instance.connect();
  await db.run(
    `INSERT INTO runs VALUES ('20260101-000000-ask-forged', 'ask', 'failed', now(), now(), 99, 1, 1, 'forged')`,
  );
  await db.run(
    `INSERT INTO model_calls VALUES ('20260101-000000-ask-forged', 'a', 1, 1, 'fast', 'm', 1, 1, 1, 99, 'ok', now())`,
  );
  await db.run('UPDATE runs SET cost_usd = 50, status = $2 WHERE id = $1', [first.id, 'failed']);
  await db.run('DELETE FROM runs WHERE id = $1', [second.id]);
  await db.run('DELETE FROM model_calls WHERE run_id = $1', [second.id]);
  db.closeSync();
  instance.closeSync();

  await start();
  expect(await client.request(MetricsReportRequest, SPAN)).toEqual(truth);
  const calls = await (await running!.daemon.conductor.get()).modelCalls();
  expect(calls.map((c) => c.runId).sort()).toEqual([first.id, second.id].sort());
});

it('a run store that cannot be opened (a folder planted where the file goes) stalls nothing', async () => {
  const planted = join(dirs.workspace, '.keel', 'runs.duckdb');
  await mkdir(planted, { recursive: true });
  await writeFile(join(planted, 'keep.txt'), 'not a database\n');
  // In a process of its own: a command whose stop waited for rows it can never write would spin
  // there (the store's batch never emptied) and be killed, code null.
  const ran = await runKeel(['run', 'ask', '--yes', '--json'], {
    cwd: dirs.workspace,
    runtime: dirs.runtime,
    timeoutMs: 20_000,
  });
  expect(ran.code, ran.stderr).toBe(0);
  expect(JSON.parse(ran.stdout)).toMatchObject({ status: 'succeeded' });
  expect(ran.stderr).toContain('the run store cannot be opened');
  expect(await readFile(join(planted, 'keep.txt'), 'utf8')).toBe('not a database\n');
}, 60_000);
