/**
 * Cost-aware routing against a real daemon and a model endpoint on loopback whose `fast` model
 * answers badly and whose `strong` model answers well: with `keel eval` results recorded, a run of
 * a runbook with `model: { route: cheapest-passing }` uses the cheap tier once its eval passes and
 * the strong one while it fails; a run killed with -9 keeps its tier when the next daemon resumes
 * it, whatever the evals say by then; and a step whose answer fails its schema on the cheap tier
 * escalates to the strong one, the trace showing what each tier cost.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunGetRequest, RunStartRequest, type RunSummary, type RunTrace } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { duckdb } from '../../daemon/src/runtime/duckdb';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import { GOOD_ANSWER, REPLY_RUNBOOK, initEvalWorkspace, scriptQuality } from '../helpers/evalWorkspace';
import { ModelServer, type ReceivedRequest } from '../helpers/modelServer';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const ROUTED_REPLY = REPLY_RUNBOOK.replace(
  'model: { tier: fast }',
  'model: { route: cheapest-passing, tiers: [fast, strong] }',
);

let dirs: TempDirs;
let server: ModelServer;
let daemon: RunningDaemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  await initEvalWorkspace(dirs, server);
  await writeFile(join(dirs.workspace, 'runbooks', 'reply.yaml'), ROUTED_REPLY);
  expect((await keel(['trust', '--yes'])).code).toBe(0);
});
afterEach(async () => {
  daemon?.process.kill('SIGKILL');
  await daemon?.exited;
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

/** The models the endpoint was asked for drafts (the judge's grading calls left out), from `from` on. */
function drafted(from = 0): string[] {
  return server.requests
    .slice(from)
    .map(
      (r: ReceivedRequest) =>
        r.body as { model: string; response_format?: { json_schema?: { name?: string } } },
    )
    .filter((body) => body.response_format?.json_schema?.name !== 'grade')
    .map((body) => body.model);
}

async function trace(id: string): Promise<RunTrace> {
  const shown = await keel(['show', id, '--json']);
  expect(shown.code, shown.stderr).toBe(0);
  return JSON.parse(shown.stdout) as RunTrace;
}

async function run(runbook: string, input: string): Promise<{ stdout: string; run: RunSummary }> {
  const ran = await keel(['run', runbook, '--input', input]);
  expect(ran.code, ran.stderr + ran.stdout).toBe(0);
  const json = await keel(['runs', '--json']);
  const [latest] = JSON.parse(json.stdout) as RunSummary[];
  return { stdout: ran.stdout, run: latest! };
}

it('routes to the strong tier while the cheap one fails its eval, and to the cheap one once it passes', async () => {
  const quality = scriptQuality(server);
  expect((await keel(['eval', 'reply', '--tier', 'fast'])).code).toBe(1);
  expect((await keel(['eval', 'reply', '--tier', 'strong'])).code).toBe(0);

  let mark = server.requests.length;
  const strong = await run('reply', 'question=When is our kickoff?');
  expect(strong.stdout).toContain(
    'routed to tier strong: latest eval 1/1 passed (fast latest eval 0/1 passed)',
  );
  expect(drafted(mark)).toEqual(['gpt-4o']);
  expect(strong.run.route?.tier).toBe('strong');

  // The cheap model improves; its next eval passes and the next run takes it.
  quality.answers['gpt-4o-mini'] = GOOD_ANSWER;
  expect((await keel(['eval', 'reply', '--tier', 'fast'])).code).toBe(0);
  mark = server.requests.length;
  const fast = await run('reply', 'question=When is our kickoff?');
  expect(fast.stdout).toContain('routed to tier fast: latest eval 1/1 passed');
  expect(drafted(mark)).toEqual(['gpt-4o-mini']);
  const shown = await keel(['show', fast.run.id]);
  expect(shown.stdout).toContain('routed to tier fast: latest eval 1/1 passed');
  expect(shown.stdout).toContain('model gpt-4o-mini (fast)');

  // The report compares the tiers: pass rate, cost per passing run, latency.
  const report = await keel(['report']);
  expect(report.stdout).toMatch(
    /reply on fast: 2 eval\(s\), 50% passed, .*\$0\.\d{4} per passing run, \d+ ms a run/,
  );
  expect(report.stdout).toMatch(
    /reply on strong: 1 eval\(s\), 100% passed, .*\$0\.\d{4} per passing run, \d+ ms a run/,
  );
}, 90_000);

it('keeps the tier chosen at the start when the daemon is killed with -9 and the evals change meanwhile', async () => {
  const quality = scriptQuality(server);
  expect((await keel(['eval', 'reply', '--tier', 'fast'])).code).toBe(1);
  expect((await keel(['eval', 'reply', '--tier', 'strong'])).code).toBe(0);
  // The run's draft hangs until the daemon is killed.
  let hang = true;
  server.respondWith((request) => {
    const body = request.body as { model: string };
    if (hang) return { fault: { kind: 'hang' } };
    return { content: quality.answers[body.model] ?? '', model: body.model };
  });

  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  let client = await connect();
  const mark = server.requests.length;
  const started = await client.request(RunStartRequest, {
    runbook: 'reply',
    inputs: { question: 'When is our kickoff?' },
  });
  expect(started.route?.reason).toBe('tier strong: latest eval 1/1 passed (fast latest eval 0/1 passed)');
  await waitFor('the draft to be asked', () => server.requests.length > mark);
  daemon.process.kill('SIGKILL');
  await daemon.exited;

  // While the daemon is down, a newer eval of the cheap tier passes: a run started now would take it.
  quality.answers['gpt-4o-mini'] = GOOD_ANSWER;
  await recordPassingEval('fast');
  hang = false;
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  client = await connect();
  const ended = await waitFor(
    'the resumed run to end',
    async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' ? run : null;
    },
    30_000,
  );
  expect(ended.route?.tier).toBe('strong');
  expect(drafted(mark)).toEqual(['gpt-4o', 'gpt-4o']);
  expect(
    (await trace(started.id)).steps.find((s) => s.id === 'draft')?.modelCalls.map((c) => c.tier),
  ).toEqual(['strong']);

  // The flip was real: a new run goes to the cheap tier.
  const next = await client.request(RunStartRequest, { runbook: 'reply', inputs: { question: 'Again?' } });
  expect(next.route?.tier).toBe('fast');
}, 90_000);

it('escalates a step whose answer fails its schema on the cheap tier to the strong one, with both costs', async () => {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'extract.yaml'),
    `apiVersion: keel/v1
name: extract
role: Scheduling
description: Reads the kickoff day out of a message.
inputs:
  message: { type: string }
model: { route: cheapest-passing, tiers: [fast, strong] }
steps:
  - id: day
    type: llm
    prompt: 'Which day is the kickoff? {{ inputs.message }}'
    schema: { type: object, required: [day], properties: { day: { type: string } } }
outputs:
  day: { value: '{{ steps.day.output.day }}' }
`,
  );
  server.respondWith((request) => {
    const model = (request.body as { model: string }).model;
    return { content: model === 'gpt-4o' ? '{"day":"Tuesday"}' : 'Tuesday, I think.', model };
  });
  const { stdout, run: ran } = await run('extract', 'message=Kickoff on Tuesday');
  // Neither tier was evaluated: the cheapest is tried.
  expect(stdout).toContain('routed to tier fast: no tier has an eval; never evaluated, so tried');
  expect(stdout).toContain('day: Tuesday');
  // The first answer, the re-ask on fast, then strong.
  expect(drafted()).toEqual(['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o']);

  const [escalation] = (await trace(ran.id)).escalations ?? [];
  expect(escalation).toMatchObject({
    stepId: 'day',
    fromTier: 'fast',
    toTier: 'strong',
    reason: 'it is not JSON',
  });
  expect(escalation!.fromCostUsd).toBeGreaterThan(0);
  // gpt-4o costs ~16x gpt-4o-mini a token: one call on strong costs more than two on fast.
  expect(escalation!.toCostUsd).toBeGreaterThan(escalation!.fromCostUsd);
  const shown = await keel(['show', ran.id]);
  expect(shown.stdout).toMatch(
    /⇡ day escalated from tier fast \(\$0\.\d+\) to strong \(\$0\.\d+\): it is not JSON/,
  );
}, 60_000);

it("escalates a step whose answer misses the run's success check on the cheap tier; an unrouted run just fails", async () => {
  const runbook = (model: string): string => `apiVersion: keel/v1
name: kickoff
role: Scheduling
description: Says the kickoff day in one line.
inputs:
  message: { type: string }
model: ${model}
steps:
  - { id: line, type: llm, prompt: 'Say the kickoff day in one line: {{ inputs.message }}' }
outputs:
  line: { value: '{{ steps.line.output }}' }
success:
  - check: "steps.line.output contains 'Tuesday'"
    description: the line names the day
`;
  await writeFile(
    join(dirs.workspace, 'runbooks', 'kickoff.yaml'),
    runbook('{ route: cheapest-passing, tiers: [fast, strong] }'),
  );
  server.respondWith((request) => {
    const model = (request.body as { model: string }).model;
    return { content: model === 'gpt-4o' ? 'Kickoff is on Tuesday.' : 'Kickoff is soon.', model };
  });
  const { run: ran } = await run('kickoff', 'message=Kickoff on Tuesday');
  expect(ran.status).toBe('succeeded');
  // No re-ask on the cheap tier: its answer was valid, only not good enough.
  expect(drafted()).toEqual(['gpt-4o-mini', 'gpt-4o']);
  expect(ran.outputs).toEqual({ line: 'Kickoff is on Tuesday.' });
  const { escalations } = await trace(ran.id);
  expect(escalations).toEqual([
    expect.objectContaining({
      stepId: 'line',
      fromTier: 'fast',
      toTier: 'strong',
      reason: 'success criterion not met: the line names the day',
    }),
  ]);

  // The same runbook on the cheap tier alone: nothing to escalate to, and the run says why it failed.
  await writeFile(join(dirs.workspace, 'runbooks', 'kickoff.yaml'), runbook('{ tier: fast }'));
  expect((await keel(['trust', '--yes'])).code).toBe(0);
  const before = server.requests.length;
  const failed = await keel(['run', 'kickoff', '--input', 'message=Kickoff on Tuesday']);
  expect(failed.code).not.toBe(0);
  expect(failed.stdout + failed.stderr).toContain('success criterion not met: the line names the day');
  expect(drafted(before)).toEqual(['gpt-4o-mini']);
}, 60_000);

it('routes a step with a route of its own when it starts, keeping the choice in the journal', async () => {
  scriptQuality(server);
  // The runbook says `strong`; its draft step routes on its own.
  await writeFile(
    join(dirs.workspace, 'runbooks', 'reply.yaml'),
    REPLY_RUNBOOK.replace(
      "    prompt: 'Answer the customer",
      '    model: { route: cheapest-passing, tiers: [fast, strong] }\n' + "    prompt: 'Answer the customer",
    ).replace('model: { tier: fast }', 'model: { tier: strong }'),
  );
  expect((await keel(['eval', 'reply', '--tier', 'fast'])).code).toBe(1);
  expect((await keel(['eval', 'reply', '--tier', 'strong'])).code).toBe(0);
  const mark = server.requests.length;
  const { run: ran } = await run('reply', 'question=When is our kickoff?');
  expect(drafted(mark)).toEqual(['gpt-4o']);
  const draft = (await trace(ran.id)).steps.find((s) => s.id === 'draft');
  expect(draft?.route).toEqual({
    tier: 'strong',
    reason: 'tier strong: latest eval 1/1 passed (fast latest eval 0/1 passed)',
  });
  expect((await keel(['show', ran.id])).stdout).toContain(
    '    routed to tier strong: latest eval 1/1 passed',
  );
  // Replayed from its journal, the step takes the recorded tier without asking the eval store again.
  const replayed = await keel(['replay', ran.id]);
  expect(replayed.code, replayed.stderr + replayed.stdout).toBe(0);
  expect(server.requests.length).toBe(mark + 1);
}, 90_000);

async function connect(): Promise<Awaited<ReturnType<typeof attachToDaemon>>> {
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await waitFor('the daemon to serve', async () => (await WorkspaceLock.holder(dirs.workspace))?.serving);
  return attachToDaemon(dirs.workspace);
}

/** A newer, passing eval of the reply runbook on `tier`, written straight into the eval store. */
async function recordPassingEval(tier: string): Promise<void> {
  const instance = await duckdb().DuckDBInstance.create(join(dirs.workspace, '.keel', 'evals.duckdb'));
  const db = await instance.connect();
  await db.run(
    `INSERT INTO eval_results VALUES ('eval-later', now() + INTERVAL 1 MINUTE, 'reply', 'kickoff time', $1, 0,
       'gpt-4o-mini', true, 1, 'succeeded', 0.0001, 10, 5, NULL, '[]')`,
    [tier],
  );
  db.closeSync();
  instance.closeSync();
}
