/**
 * `keel eval` runs live against the endpoint but acts on nothing: a runbook that sends a message
 * and files a draft has both captured (no message delivered, no outbox file, no approval), and a
 * test file's regex cannot stall the daemon: a catastrophic pattern against a long model answer
 * is matched in linear time, and a pattern RE2 cannot take fails its check, naming it. The
 * emergency stop ends an eval under way at once, and what it cut short is not stored.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalsListRequest,
  EmergencyStopRequest,
  EvalReportRequest,
  EvalRunRequest,
  StatusRequest,
} from '@keel/schemas';
import { waitFor } from '../helpers/processes';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { ModelServer, pricedModels } from '../helpers/modelServer';
import { delivered, notifyConnector } from '../helpers/notifyConnector';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;
let provider: string;

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  provider = join(dirs.workspace, '..', 'provider');
  process.env.KEEL_TEST_NOTIFY_TOKEN = 'tok-eval-0123456789';
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await server.close();
  delete process.env.KEEL_TEST_NOTIFY_TOKEN;
  await dirs.cleanup();
});

async function start(runbook: string, evals: string): Promise<void> {
  await mkdir(provider, { recursive: true });
  await mkdir(join(dirs.workspace, 'runbooks', 'tests'), { recursive: true });
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
${pricedModels(server)}connectors:
  notify:
    use: notify@1
    dir: ${JSON.stringify(provider)}
    credentials: { token: { env: KEEL_TEST_NOTIFY_TOKEN } }
approvals:
  actions:
    - { action: notify.send, decide: allow }
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'act.yaml'), runbook);
  await writeFile(join(dirs.workspace, 'runbooks', 'tests', 'act.test.yaml'), evals);
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [notifyConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

const ACTING_RUNBOOK = `apiVersion: keel/v1
name: act
role: Tester
description: Sends what the model wrote, files it in the outbox and proposes a note.
model: { tier: fast }
steps:
  - id: draft
    type: llm
    prompt: Write to the customer.
  - id: send
    type: connector
    use: notify
    action: send
    with: { to: customer@example.com, text: '{{ steps.draft.output }}' }
  - id: file
    type: connector
    use: fs.outbox@1
    with: { path: sent.md, content: '{{ steps.draft.output }}' }
  - id: note
    type: propose
    path: memory/sent.md
    summary: What was sent
    content: '{{ steps.draft.output }}'
outputs:
  text: { value: '{{ steps.draft.output }}' }
`;

it('captures every side effect of the runbook: no message delivered, no outbox file, no approval', async () => {
  await start(
    ACTING_RUNBOOK,
    `runbook: act
evals:
  cases:
    - name: acts
      checks:
        - { output: text, contains: Hello }
        - { noOutbox: true }
`,
  );
  // The model asks for more than the runbook does; its answer is data all the same.
  server.respondWith(() => ({
    content: 'Hello! Also send this to everyone@example.com and delete memory/.',
  }));
  const run = await client.request(EvalRunRequest, { runbook: 'act', repeat: 1, baseline: false });
  expect(run.results[0]).toMatchObject({ status: 'succeeded', passed: false });
  expect(run.results[0]!.checks.map((c) => [c.kind, c.passed, c.detail])).toEqual([
    ['contains', true, null],
    ['noOutbox', false, 'the run wrote outbox/sent.md (captured by the eval, not written)'],
  ]);
  expect(await delivered(provider)).toEqual([]);
  expect(await readdir(join(dirs.workspace, 'outbox')).catch(() => [])).toEqual([]);
  expect(await readdir(join(dirs.workspace, 'memory')).catch(() => [])).toEqual([]);
  expect((await client.request(ApprovalsListRequest, {})).approvals).toEqual([]);
}, 60_000);

it('matches a catastrophic regex against a long answer in linear time, the daemon answering meanwhile', async () => {
  await start(
    ACTING_RUNBOOK.replace(/ {2}- id: send[\s\S]*?(?= {2}- id: file)/, ''),
    `runbook: act
evals:
  cases:
    - name: long answer
      checks:
        - { output: text, regex: '^(a+)+$' }
        - { output: text, regex: '^(\\w+\\s?)*$' }
        - { output: text, regex: '(a)\\1' }
`,
  );
  // With a backtracking engine, ^(a+)+$ against this takes longer than the universe has left.
  server.respondWith(() => ({ content: `${'a'.repeat(30_000)}!` }));
  const started = performance.now();
  const evaluated = client.request(EvalRunRequest, { runbook: 'act', repeat: 1, baseline: false });
  // The daemon keeps answering while the eval grades.
  expect((await client.request(StatusRequest, {})).workspace).toBe(dirs.workspace);
  const run = await evaluated;
  expect(performance.now() - started).toBeLessThan(10_000);
  expect(run.results[0]!.checks.map((c) => [c.kind, c.passed])).toEqual([
    ['regex', false],
    ['regex', false],
    ['regex', false],
  ]);
  expect(run.results[0]!.checks[2]!.detail).toMatch(
    /regex "\(a\)\\\\1" is not supported .*without lookaround or backreferences: rewrite it in the test file/,
  );
}, 60_000);

it('is ended by the emergency stop within a second, storing nothing and refusing the next one', async () => {
  await start(
    ACTING_RUNBOOK.replace(/ {2}- id: send[\s\S]*?(?= {2}- id: file)/, ''),
    `runbook: act
evals:
  cases:
    - name: slow
      checks: [{ output: text, contains: Hello }]
`,
  );
  // A model that takes a minute to answer: the eval is under way until something ends it.
  server.respondWith(() => ({ content: 'Hello', delayMs: 60_000 }));
  const evaluated = client.request(EvalRunRequest, { runbook: 'act', repeat: 3, baseline: false }).then(
    () => null,
    (error: Error) => error,
  );
  await waitFor('the eval to call the model', () => server.requests.length > 0);
  const stopped = performance.now();
  await client.request(EmergencyStopRequest, { reason: 'test' });
  const error = await evaluated;
  expect(performance.now() - stopped).toBeLessThan(1_000);
  expect(error?.message).toMatch(/the eval of act was stopped \(emergency stop\); nothing was stored/);
  expect(server.requests).toHaveLength(1);
  expect((await client.request(EvalReportRequest, { since: '2000-01-01' })).rows).toEqual([]);
  await expect(
    client.request(EvalRunRequest, { runbook: 'act', repeat: 1, baseline: false }),
  ).rejects.toThrow('the emergency stop is on: run "keel resume" before an eval');
}, 60_000);
