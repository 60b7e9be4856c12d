/**
 * A taken-over run survives `kill -9`: a real daemon process is killed while the run it took
 * over waits for the model, and again while it waits at a checkpoint; the next daemon finishes
 * it from the journal, asking the model nothing it had already answered and writing its outbox
 * file once.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  RunCheckpointRequest,
  RunGetRequest,
  RunStartRequest,
  RunTakeoverRequest,
  type RunSummary,
} from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import { writeNote } from '../helpers/memory';
import { ModelServer, type ReceivedRequest } from '../helpers/modelServer';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: RunningDaemon | null = null;

const RUNBOOK = `apiVersion: keel/v1
name: digest
role: Operations lead
description: Facts, a draft, a look by the operator, saved to the outbox.
steps:
  - { id: facts, type: llm, prompt: "About facts" }
  - { id: draft, type: llm, prompt: "About draft from {{ steps.facts.output }}" }
  - { id: look, type: checkpoint, show: "{{ steps.draft.output }}" }
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: digest.md, content: "{{ steps.look.output }}" }
`;

/** Which topic each request asked about, in order. */
function topics(): string[] {
  return server.requests.map((r: ReceivedRequest) => {
    const messages = (r.body as { messages: { role: string; content: string }[] }).messages;
    return /^About (\w+)/.exec(messages.find((m) => m.role === 'user')!.content)?.[1] ?? '?';
  });
}

async function connect(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await waitFor('the daemon to serve', async () => (await WorkspaceLock.holder(dirs.workspace))?.serving);
  return attachToDaemon(dirs.workspace);
}

async function restart(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  daemon!.process.kill('SIGKILL');
  await daemon!.exited;
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  return connect();
}

function reaches(
  client: Awaited<ReturnType<typeof attachToDaemon>>,
  id: string,
  status: RunSummary['status'],
): Promise<RunSummary> {
  return waitFor(
    `run ${id} ${status}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return run.status === status ? run : null;
    },
    20_000,
  );
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, 'runbooks/digest.yaml', RUNBOOK);
  expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
});
afterEach(async () => {
  daemon?.process.kill('SIGKILL');
  await daemon?.exited;
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it(
  'finishes a taken-over run through kill -9 in a model call and at its checkpoint',
  { timeout: 120_000 },
  async () => {
    let draftFails = true;
    let draftSlow = false;
    server.respondWith((request) => {
      const messages = (request.body as { messages: { role: string; content: string }[] }).messages;
      const topic = /^About (\w+)/.exec(messages.find((m) => m.role === 'user')!.content)?.[1];
      if (topic === 'draft' && draftFails)
        return { fault: { kind: 'status', status: 400, message: 'no draft' } };
      return { content: `the ${topic}`, delayMs: topic === 'draft' && draftSlow ? 60_000 : 0 };
    });
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    let client = await connect();
    const { id } = await client.request(RunStartRequest, { runbook: 'digest', inputs: {} });
    await reaches(client, id, 'failed');

    draftFails = false;
    draftSlow = true;
    await client.request(RunTakeoverRequest, { id, fromStep: 'draft' });
    await waitFor('the draft to be asked again', () => topics().filter((t) => t === 'draft').length === 2);
    await client.close();
    draftSlow = false;
    client = await restart();
    await reaches(client, id, 'waiting_operator');
    expect(topics()).toEqual(['facts', 'draft', 'draft', 'draft']);

    await client.close();
    client = await restart();
    await reaches(client, id, 'waiting_operator');
    await client.request(RunCheckpointRequest, { id, action: 'continue' });
    const done = await reaches(client, id, 'succeeded');
    await client.close();
    expect(done.takeovers).toBe(1);
    expect(topics()).toEqual(['facts', 'draft', 'draft', 'draft']);
    expect(await readdir(join(dirs.workspace, 'outbox'))).toEqual(['digest.md']);
    expect(await readFile(join(dirs.workspace, 'outbox/digest.md'), 'utf8')).toBe('the draft');
  },
);
