/**
 * Routing takes only what keel.yaml allows and survives a damaged eval store: a route naming a
 * tier keel.yaml does not have (the runbook's or a step's) is refused before anything runs, naming the tier and the fix; and
 * an eval row with no verdict and NaN figures (a hand-edited or damaged `.keel/evals.duckdb`) is
 * read as a failed eval, so the run still starts on a tier the route allows.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import { duckdb } from '../../daemon/src/runtime/duckdb';
import { GOOD_ANSWER, REPLY_RUNBOOK, initEvalWorkspace, scriptQuality } from '../helpers/evalWorkspace';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  await initEvalWorkspace(dirs, server);
  // Both models answer well (and the judge grades): only the eval store can send a run elsewhere.
  scriptQuality(server).answers['gpt-4o-mini'] = GOOD_ANSWER;
  expect((await keel(['trust', '--yes'])).code).toBe(0);
});
afterEach(async () => {
  await server.close();
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

const routed = (tiers: string) =>
  writeFile(
    join(dirs.workspace, 'runbooks', 'reply.yaml'),
    REPLY_RUNBOOK.replace('model: { tier: fast }', `model: { route: cheapest-passing, tiers: ${tiers} }`),
  );

it('refuses a run whose route names a tier keel.yaml does not have, before any model call', async () => {
  await routed('[fast, turbo]');
  const ran = await keel(['run', 'reply', '--input', 'question=When?']);
  expect(ran.code).not.toBe(0);
  expect(ran.stderr).toContain(
    'runbook reply: model.tiers names "turbo", not in keel.yaml models.tiers (it has: fast, strong); add the tier to keel.yaml or remove it from the route',
  );
  // A step's own route too, checked before the run starts rather than when the step is reached.
  await writeFile(
    join(dirs.workspace, 'runbooks', 'reply.yaml'),
    REPLY_RUNBOOK.replace(
      "    prompt: 'Answer the customer",
      '    model: { route: cheapest-passing, tiers: [turbo, strong] }\n' + "    prompt: 'Answer the customer",
    ),
  );
  const step = await keel(['run', 'reply', '--input', 'question=When?']);
  expect(step.code).not.toBe(0);
  expect(step.stderr).toContain(
    'runbook reply step draft: model.tiers names "turbo", not in keel.yaml models.tiers',
  );
  expect(server.requests).toEqual([]);
  expect(JSON.parse((await keel(['runs', '--json'])).stdout)).toEqual([]);
}, 60_000);

it('reads an eval row with no verdict and NaN figures as a failed eval, and still starts the run', async () => {
  await routed('[fast, strong]');
  // A passing eval of the cheap tier, then a hostile newer row for it.
  expect((await keel(['eval', 'reply', '--tier', 'fast'])).code).toBe(0);
  const instance = await duckdb().DuckDBInstance.create(join(dirs.workspace, '.keel', 'evals.duckdb'));
  const db = await instance.connect();
  await db.run(
    `INSERT INTO eval_results VALUES ('eval-hostile', now() + INTERVAL 1 MINUTE, 'reply', 'x', 'fast', -1,
       NULL, NULL, 'NaN'::DOUBLE, NULL, 'NaN'::DOUBLE, -5, 'Infinity'::DOUBLE, NULL, 'not json')`,
  );
  db.closeSync();
  instance.closeSync();

  const ran = await keel(['run', 'reply', '--input', 'question=When?']);
  expect(ran.code, ran.stderr).toBe(0);
  expect(ran.stdout).toContain(
    'routed to tier strong: no tier passed its eval (fast latest eval 0/1 passed); never evaluated, so tried',
  );
  const [run] = JSON.parse((await keel(['runs', '--json'])).stdout) as RunSummary[];
  expect(run).toMatchObject({ status: 'succeeded', route: { tier: 'strong' } });
}, 60_000);
