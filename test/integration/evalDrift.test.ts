/**
 * Drift, in the long-lived daemon: the first eval of a runbook on a tier is its baseline; a
 * scheduled eval (`schedule` trigger with `eval:`) after the strong model started answering badly,
 * and a later one whose answers are as good but which the endpoint reports as another model, each
 * raise an `evalDrift` alert naming the case that changed, and `keel/evals/report` lists them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EvalReportRequest, EvalRunRequest, EvalsChangedNotification, type EvalDrift } from '@keel/schemas';
import type { Clock } from '../../daemon/src/conductor/triggerSchedule';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { BAD_ANSWER, GOOD_ANSWER, REPLY_EVALS, REPLY_RUNBOOK, scriptQuality } from '../helpers/evalWorkspace';
import { ModelServer, pricedModels } from '../helpers/modelServer';
import { delivered, notifyConnector } from '../helpers/notifyConnector';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let provider: string;

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  provider = join(dirs.workspace, '..', 'provider');
  await mkdir(provider, { recursive: true });
  process.env.KEEL_TEST_NOTIFY_TOKEN = 'tok-drift-0123456789';
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await server.close();
  delete process.env.KEEL_TEST_NOTIFY_TOKEN;
  await dirs.cleanup();
});

/**
 * A clock that stands at `from` until `go()`, then jumps to `to` and runs at real speed: the
 * schedule's slot comes only once the test is ready for it, however long the steps before take.
 * (A timer that fires while the clock stands finds no slot due and sleeps again.)
 */
function heldClock(from: string, to: string): { clock: Clock; go: () => void } {
  let released: number | null = null;
  return {
    clock: { now: () => (released === null ? Date.parse(from) : Date.parse(to) + (Date.now() - released)) },
    go: () => {
      released = Date.now();
    },
  };
}

it('alerts when a scheduled eval falls below the baseline, and when the endpoint reports another model', async () => {
  await mkdir(join(dirs.workspace, 'runbooks', 'tests'), { recursive: true });
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
${pricedModels(server, { strong: true })}connectors:
  notify:
    use: notify@1
    dir: ${JSON.stringify(provider)}
    credentials: { token: { env: KEEL_TEST_NOTIFY_TOKEN } }
alerts:
  to: { connector: notify, action: send, with: { to: operator@example.com } }
  on: [evalDrift]
  minIntervalMinutes: 0
`,
  );
  // Every day at 06:00 UTC, the runbook's evals on the strong tier.
  await writeFile(
    join(dirs.workspace, 'runbooks', 'reply.yaml'),
    REPLY_RUNBOOK.replace(
      'model: { tier: fast }',
      'model: { tier: fast }\ntriggers:\n  - { type: schedule, cron: "0 6 * * *", timezone: UTC, eval: { tier: strong } }',
    ),
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'tests', 'reply.test.yaml'), REPLY_EVALS);
  const quality = scriptQuality(server);
  const time = heldClock('2026-11-23T05:59:45Z', '2026-11-23T06:00:00Z');
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
    connectors: [notifyConnector],
    // Before the 06:00 slot until the baseline is set and the model has changed.
    clock: time.clock,
  });
  const client = new InProcessClient(daemon);
  // What the dashboard hears: each eval, with the drift it found.
  const heard: (EvalDrift | null)[] = [];
  client.onNotification(EvalsChangedNotification, (change) => heard.push(change.drift));
  await trust(daemon);
  await daemon.conductor.triggers()!.settled();

  const first = await client.request(EvalRunRequest, {
    runbook: 'reply',
    tier: 'strong',
    repeat: 1,
    baseline: false,
  });
  expect(first).toMatchObject({ baseline: true, drift: null });
  expect(first.results[0]).toMatchObject({ passed: true, model: 'gpt-4o' });

  // The strong model starts answering badly; the 06:00 slot evaluates it.
  quality.answers['gpt-4o'] = BAD_ANSWER;
  time.go();
  const [scoreAlert] = await waitFor(
    'the drift alert of the scheduled eval',
    async () => {
      const sent = await delivered(provider);
      return sent.length > 0 ? sent : null;
    },
    30_000,
  );
  expect(scoreAlert!.to).toBe('operator@example.com');
  expect(scoreAlert!.text).toContain('Keel: eval drift in reply (strong)');
  expect(scoreAlert!.text).toContain('"kickoff time": score 0.97 -> 0.07');
  expect(scoreAlert!.text).toContain('keel eval reply --tier strong --baseline');

  // Answers as good as the baseline's, but the endpoint now reports another model.
  quality.answers['gpt-4o'] = GOOD_ANSWER;
  quality.reports['gpt-4o'] = 'gpt-4o-2026-01-15';
  const updated = await client.request(EvalRunRequest, {
    runbook: 'reply',
    tier: 'strong',
    repeat: 1,
    baseline: false,
  });
  expect(updated.results[0]!.passed).toBe(true);
  expect(updated.drift?.cases).toEqual([
    {
      case: 'kickoff time',
      baselineScore: first.results[0]!.score,
      score: first.results[0]!.score,
      baselineModel: 'gpt-4o',
      model: 'gpt-4o-2026-01-15',
    },
  ]);
  const modelAlert = await waitFor(
    'the model drift alert',
    async () => (await delivered(provider))[1] ?? null,
  );
  expect(modelAlert.text).toContain('"kickoff time": model "gpt-4o" -> "gpt-4o-2026-01-15"');

  const report = await client.request(EvalReportRequest, { since: '2000-01-01' });
  expect(report.drift.map((d) => d.cases.map((c) => [c.case, c.model]))).toEqual([
    [['kickoff time', 'gpt-4o-2026-01-15']],
    [['kickoff time', 'gpt-4o']],
  ]);
  expect(report.rows).toMatchObject([{ runbook: 'reply', tier: 'strong', runs: 3 }]);
  expect(heard.map((drift) => drift?.cases[0]?.model ?? null)).toEqual([null, 'gpt-4o', 'gpt-4o-2026-01-15']);
}, 90_000);
