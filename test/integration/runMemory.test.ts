/**
 * Traces are memory, through a real daemon, real LanceDB and the real CLI: a run rejected with a
 * reason is found by `keel search --kind run` and opened by `keel show run:<id>`; an agent's
 * memory_search with kind run finds what a past run promised; a restart indexes a run the index
 * never saw; a removed journal leaves search; notes stay the default kind.
 */
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalRejectRequest,
  MemorySearchRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
  type SearchResult,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

const REASON = 'We promised Acme a fifteen percent discount until June; keep the renewal unchanged.';

const RENEWAL = `apiVersion: keel/v1
name: renewal
role: Account manager
description: Proposes the renewal line in the customer's note.
steps:
  - id: draft
    type: llm
    prompt: Write the renewal line for Acme.
  - id: update
    type: propose
    path: memory/customers/acme.md
    content: "# Acme\\n\\n{{ steps.draft.output }}\\n"
    summary: Acme renewal line
    reasoning: The contract says April.
`;

const PROMISE = `apiVersion: keel/v1
name: promise
role: Sales
description: Records what was promised to a customer.
inputs:
  customer: { type: string }
  promise: { type: string }
steps:
  - id: note
    type: llm
    prompt: "Confirm the promise to {{ inputs.customer }}: {{ inputs.promise }}"
outputs:
  confirmation: { value: "{{ steps.note.output }}" }
`;

const ASK = `apiVersion: keel/v1
name: ask
role: Sales
description: Looks up past promises.
steps:
  - id: look
    type: agent
    goal: Find what we promised Acme last time.
    tools: [memory.search]
    maxIterations: 2
`;

/** What the test model server received in a chat request, as far as these tests read it. */
interface ChatBody {
  tools: { function: { parameters: { properties: object } } }[];
  messages: { role: string; content: string }[];
}

/** The chat request `fromEnd` places back (1: the last), typed. */
function chat(fromEnd: number): ChatBody {
  return server.requests.at(-fromEnd)!.body as ChatBody;
}

/** The first tool answer the model was sent in the last chat request. */
function lastToolAnswer(): string {
  return chat(1).messages.find((m) => m.role === 'tool')!.content;
}

function git(...args: string[]): void {
  execFileSync('git', args, { cwd: dirs.workspace });
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

async function stop(): Promise<void> {
  await daemon?.stop('test');
  daemon = null;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, 'memory/customers/acme.md', '# Acme\n\nRenewal in March.\n');
  await writeNote(dirs.workspace, 'runbooks/renewal.yaml', RENEWAL);
  await writeNote(dirs.workspace, 'runbooks/promise.yaml', PROMISE);
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', ASK);
  git('add', '-A');
  git('-c', 'user.name=Maya', '-c', 'user.email=maya@example.com', 'commit', '-q', '-m', 'Start');
  git('config', 'user.name', 'Maya');
  git('config', 'user.email', 'maya@example.com');
  await start();
});
afterEach(async () => {
  await stop();
  await server.close();
  await dirs.cleanup();
});

async function ended(id: string): Promise<RunSummary> {
  return waitFor(
    `run ${id} to end`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return run.endedAt ? run : null;
    },
    30_000,
  );
}

async function searchRuns(query: string): Promise<SearchResult[]> {
  const { results } = await client.request(MemorySearchRequest, { query, k: 5, filter: { kind: 'run' } });
  return results;
}

/** Waits until a run search for `query` answers with the run (indexing is in the background). */
function foundRun(query: string, runId: string): Promise<SearchResult> {
  return waitFor(
    `run ${runId} searchable for "${query}"`,
    async () => (await searchRuns(query)).find((hit) => hit.runId === runId) ?? null,
    20_000,
  );
}

async function rejectedRun(): Promise<RunSummary> {
  server.enqueue({ content: 'Renewal in April.' });
  const started = await client.request(RunStartRequest, { runbook: 'renewal', inputs: {} });
  const waiting = await waitFor(
    'the proposal',
    async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'waiting_approval' ? run : null;
    },
    30_000,
  );
  await client.request(ApprovalRejectRequest, { id: waiting.waitingFor!, reason: REASON });
  return ended(started.id);
}

describe('finished runs in search', () => {
  it('finds a rejected run by its reason, in the CLI too, and `keel show run:<id>` opens it', async () => {
    const run = await rejectedRun();
    const hit = await foundRun('fifteen percent discount June', run.id);
    expect(hit).toMatchObject({ kind: 'run', path: `run:${run.id}`, heading: 'renewal · failed' });
    expect(hit.text).toContain(
      'Decision on step update: rejected, reason: We promised Acme a fifteen percent',
    );
    expect(hit.text).toContain('role: Account manager');
    // Notes stay the default: the same words find the feedback note, never the run.
    const notes = await waitFor(
      'the rejection lesson note to be searchable',
      async () => {
        const { results } = await client.request(MemorySearchRequest, {
          query: 'fifteen percent discount',
          k: 10,
        });
        return results.length > 0 ? results : null;
      },
      20_000,
    );
    expect(notes.every((n) => n.kind === 'note' && !n.path.startsWith('run:'))).toBe(true);
    const { results: both } = await client.request(MemorySearchRequest, {
      query: 'fifteen percent discount',
      k: 10,
      filter: { kind: 'any' },
    });
    expect(new Set(both.map((r) => r.kind))).toEqual(new Set(['note', 'run']));

    // The CLI without a daemon: an in-process daemon answers from the same index.
    await stop();
    const found = await runKeel(['search', '--kind', 'run', 'fifteen percent discount'], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`1. run ${run.id}  renewal · failed`);
    expect(found.stdout).toContain(`[keel show ${run.id}]`);
    const shown = await runKeel(['show', `run:${run.id}`], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(run.id);
    expect(shown.stdout).toContain('rejected');
  });

  it("answers an agent's memory_search with kind run: what did we promise Acme", async () => {
    server.enqueue({ content: 'Confirmed.' });
    const promised = await client.request(RunStartRequest, {
      runbook: 'promise',
      inputs: { customer: 'Acme', promise: 'free onboarding for the whole team at renewal' },
    });
    expect((await ended(promised.id)).status).toBe('succeeded');
    await foundRun('Acme onboarding', promised.id);

    server.enqueue(
      {
        toolCalls: [{ name: 'memory_search', arguments: { query: 'what did we promise Acme', kind: 'run' } }],
      },
      { content: 'Free onboarding.' },
    );
    const asked = await client.request(RunStartRequest, { runbook: 'ask', inputs: {} });
    expect((await ended(asked.id)).status).toBe('succeeded');
    // The promise run asked the model once; the agent asked twice (the tool call, then the answer).
    expect(Object.keys(chat(2).tools[0]!.function.parameters.properties)).toContain('kind');
    const answer = JSON.parse(lastToolAnswer()) as {
      kind: string;
      path: string;
      text: string;
    }[];
    expect(answer[0]).toMatchObject({ kind: 'run', path: `run:${promised.id}` });
    expect(answer[0]!.text).toContain('free onboarding for the whole team at renewal');
    expect(answer[0]!.text.startsWith(`<<<run record run:${promised.id}:`)).toBe(true);
  });

  it('indexes at start-up a run that ended while the index was behind', async () => {
    const run = await rejectedRun();
    await foundRun('fifteen percent discount', run.id);
    await stop();
    // The run index lost (or never got) the run: the journals are the source.
    await rm(join(dirs.workspace, '.keel', 'runmem'), { recursive: true, force: true });
    await start();
    await foundRun('fifteen percent discount', run.id);
  });

  it('drops a run from search once its journal is removed, and from the index at start-up', async () => {
    const run = await rejectedRun();
    await foundRun('fifteen percent discount', run.id);
    await rm(join(dirs.workspace, '.keel', 'runs', `${run.id}.jsonl`));
    expect((await searchRuns('fifteen percent discount')).map((r) => r.runId)).not.toContain(run.id);
    await stop();
    await start();
    await daemon!.memory.runsIndexed();
    expect((await searchRuns('fifteen percent discount')).map((r) => r.runId)).not.toContain(run.id);
  });
});
