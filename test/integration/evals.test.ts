/**
 * `keel eval` against a real model endpoint on loopback whose `fast` model answers badly and whose
 * `strong` model answers well: each case's checks graded, the judge's score and reasoning kept,
 * cost, tokens, latency and the model the endpoint reported stored per run in DuckDB, `--repeat`
 * giving one row per run, and `keel report` showing pass rate and cost per runbook and tier.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EvalCaseResult } from '@keel/schemas';
import { duckdb } from '../../daemon/src/runtime/duckdb';
import { initEvalWorkspace, scriptQuality } from '../helpers/evalWorkspace';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  await initEvalWorkspace(dirs, server);
  scriptQuality(server);
  expect((await keel(['trust', '--yes'])).code).toBe(0);
});
afterEach(async () => {
  await server.close();
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

async function evalJson(args: string[]): Promise<{ code: number | null; results: EvalCaseResult[] }> {
  const ran = await keel(['eval', 'reply', '--json', ...args]);
  expect(ran.stderr).not.toMatch(/error/i);
  return { code: ran.code, results: (JSON.parse(ran.stdout) as { results: EvalCaseResult[] }).results };
}

it('grades the strong tier as passing and the fast one as failing, keeping the judge’s reasoning', async () => {
  const strong = await evalJson(['--tier', 'strong']);
  expect(strong.code).toBe(0);
  expect(strong.results).toHaveLength(1);
  const [good] = strong.results;
  expect(good).toMatchObject({
    runbook: 'reply',
    case: 'kickoff time',
    tier: 'strong',
    repeat: 0,
    model: 'gpt-4o',
    passed: true,
    status: 'succeeded',
    reasoning: 'It names Tuesday and 10:00.',
  });
  expect(good!.score).toBeCloseTo((1 + 1 + 0.9) / 3);
  expect(good!.checks.map((c) => [c.kind, c.passed])).toEqual([
    ['contains', true],
    ['regex', true],
    ['rubric', true],
  ]);
  expect(good!.costUsd).toBeGreaterThan(0);
  expect(good!.tokens).toBeGreaterThan(0);
  expect(good!.latencyMs).toBeGreaterThanOrEqual(0);
  // The run drafted for gpt-4o and the judge (the dearest tier, strong) graded it: two calls.
  expect(server.requests.map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o', 'gpt-4o']);

  const fast = await keel(['eval', 'reply', '--tier', 'fast']);
  expect(fast.code).toBe(1);
  expect(fast.stdout).toMatch(/FAIL {2}reply › kickoff time {2}score 0\.07/);
  expect(fast.stdout).toContain('contains: output "reply" does not contain "Dana"');
  expect(fast.stdout).toContain('rubric: It names neither the day nor the time.');
  expect(fast.stdout).toContain('0 of 1 passed on tier fast');
  // Captured, never performed: the draft the run filed is not in the outbox.
  expect(await readdir(join(dirs.workspace, 'outbox')).catch(() => [])).toEqual([]);
}, 60_000);

it('stores one row per run with --repeat, and the report shows pass rate and cost per runbook and tier', async () => {
  const repeated = await evalJson(['--tier', 'fast', '--repeat', '3']);
  expect(repeated.code).toBe(1);
  expect(repeated.results.map((r) => [r.repeat, r.passed, r.model])).toEqual([
    [0, false, 'gpt-4o-mini'],
    [1, false, 'gpt-4o-mini'],
    [2, false, 'gpt-4o-mini'],
  ]);
  expect((await evalJson(['--tier', 'strong'])).code).toBe(0);

  const report = await keel(['report']);
  expect(report.code, report.stderr).toBe(0);
  expect(report.stdout).toContain('EVALS (keel eval)');
  expect(report.stdout).toMatch(
    /reply on fast: 1 eval\(s\), 0% passed, mean score 0\.07, \$0\.\d{4}, \d+ tokens, model gpt-4o-mini/,
  );
  expect(report.stdout).toMatch(/reply on strong: 1 eval\(s\), 100% passed, mean score 0\.97, \$0\.\d{4}/);

  // The rows themselves, in DuckDB: one per run, with the reported model and the judge's reasoning.
  const instance = await duckdb().DuckDBInstance.create(join(dirs.workspace, '.keel', 'evals.duckdb'));
  const db = await instance.connect();
  const rows = (
    await db.runAndReadAll(
      'SELECT tier, repeat_index, model, passed, reasoning, cost_usd > 0 AS costed, tokens > 0 AS counted FROM eval_results ORDER BY tier, repeat_index',
    )
  ).getRowObjectsJS();
  db.closeSync();
  instance.closeSync();
  expect(rows).toEqual([
    {
      tier: 'fast',
      repeat_index: 0,
      model: 'gpt-4o-mini',
      passed: false,
      reasoning: 'It names neither the day nor the time.',
      costed: true,
      counted: true,
    },
    {
      tier: 'fast',
      repeat_index: 1,
      model: 'gpt-4o-mini',
      passed: false,
      reasoning: 'It names neither the day nor the time.',
      costed: true,
      counted: true,
    },
    {
      tier: 'fast',
      repeat_index: 2,
      model: 'gpt-4o-mini',
      passed: false,
      reasoning: 'It names neither the day nor the time.',
      costed: true,
      counted: true,
    },
    {
      tier: 'strong',
      repeat_index: 0,
      model: 'gpt-4o',
      passed: true,
      reasoning: 'It names Tuesday and 10:00.',
      costed: true,
      counted: true,
    },
  ]);
}, 90_000);

it('names the runbook and the fix when it has no evals, and a tier keel.yaml lacks', async () => {
  const none = await keel(['eval', 'onboarding']);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain(
    'no runbooks/tests/*.test.yaml has an evals: section for runbook "onboarding"',
  );
  const tier = await keel(['eval', 'reply', '--tier', 'huge']);
  expect(tier.code).toBe(1);
  expect(tier.stderr).toContain('tier "huge" is not in keel.yaml models.tiers (it has: fast, strong)');
  expect(server.requests).toHaveLength(0);
}, 60_000);
