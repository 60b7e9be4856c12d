/**
 * A start lists finished runs from a sealed file of their summaries (`.keel/finished-runs.json`)
 * instead of reading every journal. The file is never a source of its own: it lists what the
 * journals say, a file edited by hand or planted in a cloned workspace is quarantined, and a
 * journal changed since its summary was kept is read again with every check a journal gets. A
 * real daemon (in process), model server and file system.
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunsListRequest, type RunSummary } from '@keel/schemas';
import { createLogger } from '../../daemon/src/log';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { runToEnd, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let running: InProcessDaemon | null = null;
let client: InProcessClient;
let logs: string[] = [];

const kept = (): string => join(dirs.workspace, '.keel', 'finished-runs.json');
const journal = (id: string): string => join(dirs.workspace, '.keel', 'runs', `${id}.jsonl`);

async function start(): Promise<void> {
  running = await startTrustedDaemon(
    dirs.workspace,
    createLogger({ level: 'debug', write: (line) => logs.push(line) }),
  );
  client = running.client;
}

async function stop(): Promise<void> {
  await running?.daemon.stop('test');
  running = null;
}

const run = (): Promise<RunSummary> => runToEnd(client, 'ask');

/**
 * A start that reads the journals of the runs that ended since the last start and keeps their
 * summaries (written once the daemon has caught its store up, which stop waits for).
 */
async function keepSummaries(): Promise<void> {
  await start();
  await stop();
}

const listed = async (): Promise<RunSummary[]> =>
  (await client.request(RunsListRequest, { limit: 100 })).runs;

/** The journals the last start read, from its debug line. */
const journalsRead = (): number =>
  Number(/runs loaded .*journalsRead=(\d+)/.exec(logs.findLast((l) => l.includes('runs loaded')) ?? '')?.[1]);

beforeEach(async () => {
  dirs = await makeTempDirs();
  logs = [];
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

it('lists the finished runs from their kept summaries, as the journals have them, reading none', async () => {
  await start();
  for (let i = 0; i < 3; i++) await run();
  const truth = await listed();
  await stop();
  await keepSummaries();
  expect(journalsRead()).toBe(3);

  await start();
  expect(journalsRead()).toBe(0);
  expect(await listed()).toEqual(truth);
  await stop();

  // Without the file the journals are read, and say the same.
  await rm(kept());
  await start();
  expect(journalsRead()).toBe(3);
  expect(await listed()).toEqual(truth);
});

it('quarantines a file of summaries edited by hand and lists what the journals say', async () => {
  await start();
  const [first] = [await run(), await run()];
  const truth = await listed();
  await stop();
  await keepSummaries();

  const text = await readFile(kept(), 'utf8');
  // The summaries are one sealed string of JSON: a run's status as it is written there.
  const succeeded = String.raw`\"status\":\"succeeded\"`;
  expect(text).toContain(succeeded);
  await writeFile(kept(), text.replace(succeeded, String.raw`\"status\":\"failed\"`));
  await start();
  expect(await listed()).toEqual(truth);
  expect(truth.find((r) => r.id === first.id)!.status).toBe('succeeded');
  expect(logs.join('\n')).toMatch(/finished-runs\.json was not used: it carries no valid seal/);
  expect(journalsRead()).toBe(2);
});

it('reads a journal changed since its summary was kept, even with its size and time put back', async () => {
  await start();
  const [first, second] = [await run(), await run()];
  await stop();
  await keepSummaries();

  // The same number of bytes, other words, and the modification time set back to the nanosecond
  // (as `touch -d` can): only the change time and the inode tell the file apart.
  const path = journal(first.id);
  const before = await stat(path, { bigint: true });
  const text = await readFile(path, 'utf8');
  const forged = text.replace('description: One call.', 'description: One cull.');
  expect(forged).not.toBe(text);
  await writeFile(path, forged);
  const ns = before.mtimeNs;
  execFileSync('touch', [
    '-m',
    '-d',
    `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
    path,
  ]);
  const after = await stat(path, { bigint: true });
  expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);

  await start();
  // Read again, found forged and quarantined: never listed from its kept summary.
  expect(journalsRead()).toBe(1);
  expect((await listed()).map((r) => r.id)).toEqual([second.id]);
  expect(logs.join('\n')).toMatch(/was not resumed: .*It was moved to/);
});
