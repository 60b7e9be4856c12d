/**
 * Hand-offs under `kill -9`: a real daemon process runs a parent that hands off to two children
 * side by side (each a model call and an outbox write), then writes its own file, and is killed at
 * random moments. Every parent and child finishes; each parent has exactly its two children (a
 * restart never starts a second); every side effect happens exactly once; and a replay of each
 * parent, children included, asks nothing and finds no divergence.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RunReplayRequest, RunsListRequest, RunStartRequest } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { readJournal } from '../../daemon/src/conductor/journal';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import { writeNote } from '../helpers/memory';
import { ModelServer, type ReceivedRequest } from '../helpers/modelServer';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KILLS = 12;
const RUNS_WANTED = 3;

const CHILD = (name: string): string => `apiVersion: keel/v1
name: ${name}
role: Writer
description: One answer, written to the outbox.
inputs:
  tag: { type: string }
steps:
  - { id: draft, type: llm, prompt: "[${name} {{ inputs.tag }}] Draft." }
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: "{{ inputs.tag }}/${name}.md", content: "{{ steps.draft.output }}" }
outputs:
  text: { value: "{{ steps.draft.output }}" }
`;

const PARENT = `apiVersion: keel/v1
name: lead
role: Operations lead
description: Hands off to two writers side by side, then files both.
budget: { maxUsd: 2, maxTokens: 300000 }
steps:
  - { id: a, type: runbook, runbook: alpha, inputs: { tag: "{{ run.id }}" }, needs: [] }
  - { id: b, type: runbook, runbook: beta, inputs: { tag: "{{ run.id }}" }, needs: [] }
  - id: file
    type: connector
    needs: [a, b]
    use: fs.outbox@1
    with: { path: "{{ run.id }}/lead.md", content: "{{ steps.a.output.text }} + {{ steps.b.output.text }}" }
outputs:
  both: { value: "{{ steps.a.output.text }} + {{ steps.b.output.text }}" }
`;

let dirs: TempDirs;
let server: ModelServer;
let daemon: RunningDaemon | null = null;

function markerOf(request: ReceivedRequest): { who: string; tag: string } {
  const messages = (request.body as { messages: { role: string; content: string | null }[] }).messages;
  const match = /^\[(\S+) (\S+)\]/.exec(messages.find((m) => m.role === 'user')?.content ?? '');
  return { who: match?.[1] ?? '?', tag: match?.[2] ?? '?' };
}

beforeAll(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  server.respondWith((request) => {
    const { who, tag } = markerOf(request);
    return { delayMs: 10 + Math.floor(Math.random() * 60), content: `${who} of ${tag}` };
  });
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m1 }\n  retry: { baseDelayMs: 10, maxDelayMs: 40 }\n`,
  );
  await writeNote(dirs.workspace, 'runbooks/lead.yaml', PARENT);
  await writeNote(dirs.workspace, 'runbooks/alpha.yaml', CHILD('alpha'));
  await writeNote(dirs.workspace, 'runbooks/beta.yaml', CHILD('beta'));
  await writeNote(dirs.workspace, 'memory/readme.md', '# Crash test\n');
});
afterAll(async () => {
  daemon?.process.kill('SIGKILL');
  await server.close();
  await dirs.cleanup();
});

async function connect(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await waitFor('the daemon to serve', async () => (await WorkspaceLock.holder(dirs.workspace))?.serving);
  return attachToDaemon(dirs.workspace);
}

it(
  `finishes every parent and child exactly once through ${KILLS} kill -9s`,
  { timeout: 420_000 },
  async () => {
    const parents: string[] = [];
    let kills = 0;
    expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
    while (kills < KILLS) {
      const asked = server.requests.length;
      daemon = await startDaemon(dirs.workspace, dirs.runtime);
      const client = await connect().catch(() => null);
      let running = false;
      if (client) {
        const { runs: known } = await client
          .request(RunsListRequest, { limit: 1000 })
          .catch(() => ({ runs: [] }));
        running = known.some((r) => !r.endedAt);
        if (!running && parents.length < RUNS_WANTED + kills / 2) {
          const started = await client
            .request(RunStartRequest, { runbook: 'lead', inputs: {} })
            .catch(() => null);
          if (started) parents.push(started.id);
          running = started !== null;
        }
        void client.close().catch(() => undefined);
      }
      // Once this daemon has asked the model something, a random moment later: before, during or
      // after a child's call, its outbox write, its end, or the parent's own write.
      if (running) {
        await waitFor('a model call of this daemon', () => server.requests.length > asked, 20_000).catch(
          () => undefined,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 200));
      daemon.process.kill('SIGKILL');
      await daemon.exited;
      kills++;
    }

    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const client = await connect();
    const finished = await waitFor(
      'every run to finish',
      async () => {
        const { runs: known } = await client.request(RunsListRequest, { limit: 1000 });
        return known.length === parents.length * 3 && known.every((r) => r.endedAt) ? known : null;
      },
      90_000,
    );
    expect(parents.length).toBeGreaterThanOrEqual(RUNS_WANTED);
    expect(
      finished.every((r) => r.status === 'succeeded'),
      JSON.stringify(finished.map((r) => [r.id, r.status, r.error])),
    ).toBe(true);

    const journals = (await readdir(join(dirs.workspace, '.keel/runs'))).filter((n) => n.endsWith('.jsonl'));
    expect(journals.sort()).toEqual(
      parents.flatMap((id) => [`${id}.a.jsonl`, `${id}.b.jsonl`, `${id}.jsonl`]).sort(),
    );
    const seal = new StateSeal(dirs.workspace);
    for (const id of parents) {
      const records = await readJournal(join(dirs.workspace, '.keel/runs', `${id}.jsonl`), seal);
      // One start and one end per child; the parent's own side effect once.
      expect(
        records
          .filter((r) => r.type === 'child')
          .map((r) => (r as { runId: string }).runId)
          .sort(),
      ).toEqual([`${id}.a`, `${id}.b`]);
      expect(records.filter((r) => r.type === 'childEnd')).toHaveLength(2);
      expect(records.filter((r) => r.type === 'effect')).toHaveLength(1);
      for (const child of ['a', 'b']) {
        const childRecords = await readJournal(
          join(dirs.workspace, '.keel/runs', `${id}.${child}.jsonl`),
          seal,
        );
        expect(childRecords.filter((r) => r.type === 'effect')).toHaveLength(1);
      }
      const outbox = join(dirs.workspace, 'outbox', id);
      expect((await readdir(outbox)).sort()).toEqual(['alpha.md', 'beta.md', 'lead.md']);
      expect(await readFile(join(outbox, 'lead.md'), 'utf8')).toBe(`alpha of ${id} + beta of ${id}`);
      // The replay takes both children from the journal: nothing asked, nothing written, no divergence.
      const asked = server.requests.length;
      const replay = await client.request(RunReplayRequest, { id });
      expect(replay).toMatchObject({ status: 'succeeded', modelCalls: 0, sideEffects: 0, divergence: null });
      expect(server.requests).toHaveLength(asked);
    }
    await client.close();
  },
);
