/**
 * Durable execution under `kill -9`: a real daemon process runs runbooks with model calls, outbox
 * writes and an agent's tool call in parallel branches, and is killed at random moments at least
 * 50 times. Every run
 * still finishes; no completed step ever runs again (its model is never asked after the step
 * ended) and every side effect happens exactly once.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RunsListRequest, RunStartRequest } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { readJournal } from '../../daemon/src/conductor/journal';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import type { JournalRecord } from '../../daemon/src/conductor/journalRecords';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import { writeNote } from '../helpers/memory';
import { ModelServer, type ReceivedRequest, type ScriptedReply } from '../helpers/modelServer';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KILLS = 50;
const RUNS_WANTED = 6;

const RUNBOOK = `apiVersion: keel/v1
name: chain
role: Operations
description: Five model calls and three side effects in branches, to be killed in the middle of.
steps:
  - id: first
    type: llm
    needs: []
    prompt: "[first {{ run.id }}] Say one."
  - id: save-first
    type: connector
    needs: [first]
    use: fs.outbox@1
    with: { path: "{{ run.id }}/first.md", content: "{{ steps.first.output }}" }
  - id: second
    type: llm
    needs: [first]
    prompt: "[second {{ run.id }}] Continue from {{ steps.first.output }}."
  - id: helper
    type: agent
    needs: []
    goal: "[helper {{ run.id }}] File a note."
    tools: [fs.outbox@1]
    maxIterations: 3
  - id: save-second
    type: connector
    needs: [second]
    use: fs.outbox@1
    with: { path: "{{ run.id }}/second.md", content: "{{ steps.second.output }}" }
  - id: last
    type: llm
    needs: [save-first, helper, save-second]
    prompt: "[last {{ run.id }}] Wrap up {{ steps.second.output }}."
outputs:
  summary: { value: "{{ steps.last.output }}" }
`;

let dirs: TempDirs;
let server: ModelServer;
let daemon: RunningDaemon | null = null;

/** `[step run]` at the start of the last user message. */
function markerOf(request: ReceivedRequest): { step: string; run: string } {
  const messages = (request.body as { messages: { role: string; content: string | null }[] }).messages;
  const text = messages.find((m) => m.role === 'user')?.content ?? '';
  const match = /^\[(\S+) (\S+)\]/.exec(text);
  return { step: match?.[1] ?? '?', run: match?.[2] ?? '?' };
}

function reply(request: ReceivedRequest): ScriptedReply {
  const { step, run } = markerOf(request);
  const delayMs = 10 + Math.floor(Math.random() * 50);
  if (step === 'helper') {
    const messages = (request.body as { messages: { role: string }[] }).messages;
    if (!messages.some((m) => m.role === 'tool')) {
      return {
        delayMs,
        toolCalls: [
          { name: 'outbox_write', arguments: { path: `${run}/agent.md`, content: `agent of ${run}` } },
        ],
      };
    }
    return { delayMs, content: 'filed' };
  }
  return { delayMs, content: `${step}-answer-of-${run}` };
}

beforeAll(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  server.respondWith(reply);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m1 }\n  retry: { baseDelayMs: 10, maxDelayMs: 40 }\n`,
  );
  await writeNote(dirs.workspace, 'runbooks/chain.yaml', RUNBOOK);
  await writeNote(dirs.workspace, 'memory/readme.md', '# Crash test\n');
});
afterAll(async () => {
  daemon?.process.kill('SIGKILL');
  await server.close();
  await dirs.cleanup();
});

async function connect(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  // The CLI finds the socket in its per-user runtime directory, never in the lock: be that CLI.
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await waitFor('the daemon to serve', async () => (await WorkspaceLock.holder(dirs.workspace))?.serving);
  return attachToDaemon(dirs.workspace);
}

it(
  `finishes every run exactly once through ${KILLS} kill -9s at random points`,
  { timeout: 300_000 },
  async () => {
    const runs: string[] = [];
    let kills = 0;
    expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
    while (kills < KILLS) {
      const asked = server.requests.length;
      daemon = await startDaemon(dirs.workspace, dirs.runtime);
      const client = await connect().catch(() => null);
      let running = false;
      if (client) {
        // Keep one run going: start another when the last one has finished.
        const { runs: known } = await client
          .request(RunsListRequest, { limit: 1000 })
          .catch(() => ({ runs: [] }));
        const busy = known.some((r) => r.status === 'running' || r.status === 'queued');
        running = busy;
        if (!busy && runs.length < RUNS_WANTED + kills) {
          const started = await client
            .request(RunStartRequest, { runbook: 'chain', inputs: {} })
            .catch(() => null);
          if (started) runs.push(started.id);
          running = started !== null;
        }
        void client.close().catch(() => undefined);
      }
      // Kill inside the run whatever the machine's speed: once this daemon has asked the model
      // something (the run executes), a random moment later, before, in or after the next call
      // or side effect (the model answers in 10-60 ms).
      if (running) {
        await waitFor('a model call of this daemon', () => server.requests.length > asked, 20_000).catch(
          () => undefined,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
      daemon.process.kill('SIGKILL');
      await daemon.exited;
      kills++;
    }

    // A last start, left alone: every run must finish.
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const client = await connect();
    const finished = await waitFor(
      'every run to finish',
      async () => {
        const { runs: known } = await client.request(RunsListRequest, { limit: 1000 });
        return known.length === runs.length && known.every((r) => r.endedAt) ? known : null;
      },
      60_000,
    );
    await client.close();
    expect(runs.length).toBeGreaterThanOrEqual(RUNS_WANTED);
    expect(finished.map((r) => r.status)).toEqual(runs.map(() => 'succeeded'));

    let resumes = 0;
    const steps = ['first', 'save-first', 'second', 'helper', 'save-second', 'last'];
    for (const id of runs) {
      const records = await readJournal(
        join(dirs.workspace, '.keel/runs', `${id}.jsonl`),
        new StateSeal(dirs.workspace),
      );
      resumes += records.filter((r) => r.type === 'resume').length;
      const ends = records.filter(
        (r): r is Extract<JournalRecord, { type: 'stepEnd' }> => r.type === 'stepEnd',
      );
      // Each step ended once (branches in any order), and never started again after it ended.
      expect(ends.map((e) => e.stepId).sort()).toEqual([...steps].sort());
      for (const end of ends) {
        const later = records.slice(records.indexOf(end) + 1);
        expect(
          later.some((r) => r.type === 'stepStart' && r.stepId === end.stepId),
          `${id} ${end.stepId}`,
        ).toBe(false);
        // The model was never asked for a step after that step had ended.
        const endedAt = Date.parse(end.at);
        const asked = server.requests.filter((r) => {
          const m = markerOf(r);
          return m.run === id && m.step === end.stepId && performance.timeOrigin + r.receivedAt > endedAt + 5;
        });
        expect(asked, `${id} ${end.stepId} asked after it ended`).toEqual([]);
      }
      // Every side effect once, with the content the run computed.
      const effects = records.filter((r) => r.type === 'effect').map((r) => (r as { key: string }).key);
      expect(new Set(effects).size).toBe(effects.length);
      expect(effects).toHaveLength(3);
      const outbox = join(dirs.workspace, 'outbox', id);
      expect((await readdir(outbox)).sort()).toEqual(['agent.md', 'first.md', 'second.md']);
      expect(await readFile(join(outbox, 'first.md'), 'utf8')).toBe(`first-answer-of-${id}`);
      expect(await readFile(join(outbox, 'agent.md'), 'utf8')).toBe(`agent of ${id}`);
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    // The kills landed inside runs, not only between them: runs were taken up again that often.
    expect(resumes, `${kills} kills, ${runs.length} runs, ${resumes} resumes`).toBeGreaterThanOrEqual(
      KILLS / 2,
    );
  },
);
