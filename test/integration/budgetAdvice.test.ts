/**
 * Budget advice in a real daemon with DuckDB and the test model server: agents ranked by cost per
 * successful run, and runs refused by a used-up daily quota named with the other agent whose
 * unused quota would have covered them, over RPC and in `keel report --advice`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BudgetAdviceRequest, RunGetRequest, RunStartRequest, type RunSummary } from '@keel/schemas';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let running: InProcessDaemon | null = null;
let client: InProcessClient;

const runbook = (name: string, role: string): string => `apiVersion: keel/v1
name: ${name}
role: ${role}
description: One model call.
budget: { maxUsd: 5 }
steps:
  - id: answer
    type: llm
    prompt: Say something.
    maxOutputTokens: 10
`;

async function finished(id: string): Promise<RunSummary> {
  return waitFor(`run ${id} to end`, async () => {
    const { run } = await client.request(RunGetRequest, { id });
    return run.endedAt ? run : null;
  });
}

/** One run of `name` whose answer costs `cost` dollars (1,000 $/MTok: a token is $0.001). */
async function runAt(name: string, cost: number): Promise<void> {
  server.enqueue({ content: 'ok', usage: { prompt_tokens: Math.round(cost * 1000), completion_tokens: 0 } });
  const run = await client.request(RunStartRequest, { runbook: name, inputs: {} });
  expect(await finished(run.id)).toMatchObject({ status: 'succeeded', costUsd: cost });
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await writeNote(dirs.workspace, 'runbooks/ask.yaml', runbook('ask', 'Analyst'));
  await writeNote(dirs.workspace, 'runbooks/essay.yaml', runbook('essay', 'Writer'));
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
quotas:
  - { agent: Analyst, period: day, maxUsd: 0.03 }
  - { agent: Writer, period: day, maxUsd: 1 }
`,
  );
  running = await startTrustedDaemon(dirs.workspace);
  client = running.client;
});
afterEach(async () => {
  await running?.daemon.stop('test');
  running = null;
  await server.close();
  await dirs.cleanup();
});

it('ranks agents by cost per successful run and names whose unused quota would have covered refused runs', async () => {
  await runAt('ask', 0.02);
  await runAt('ask', 0.02); // started under the quota, it takes Analyst past $0.03
  await runAt('essay', 0.3);
  for (let refused = 0; refused < 2; refused++) {
    await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(
      /daily quota of "Analyst" is used up/,
    );
  }

  const advice = await client.request(BudgetAdviceRequest, {});
  expect(advice.agents.map((a) => [a.agent, a.succeeded, a.costPerSuccessUsd])).toEqual([
    ['essay', 1, 0.3],
    ['ask', 2, 0.02],
  ]);
  // Each refused run is priced at ask's p50 ($0.02); Writer has $0.70 of its day unused.
  expect(advice.moves).toEqual([
    {
      agent: 'Analyst',
      period: 'day',
      refused: 2,
      neededUsd: 0.04,
      from: 'Writer',
      unusedUsd: 0.7,
      text:
        'moving $0.0400 of "Writer"\'s daily quota (unused $0.7000) to "Analyst" would have covered its ' +
        '2 refused runs today (about $0.0400 by their forecasts)',
    },
  ]);

  // The terminal says the same, from the same DuckDB, once the editor's daemon has gone.
  await running!.daemon.stop('test');
  running = null;
  const report = await runKeel(['report', '--advice'], { cwd: dirs.workspace, runtime: dirs.runtime });
  expect(report.code, report.stderr).toBe(0);
  const lines = report.stdout.split('\n');
  const ranked = lines.slice(lines.indexOf('Budget advice') + 1);
  expect(ranked[0]).toMatch(/^RANK\s+AGENT\s+SUCCEEDED\s+COST\s+PER SUCCESS\s+REWORK$/);
  expect(ranked[1]).toMatch(/^1\s+essay\s+1\s+\$0\.3000\s+\$0\.3000\s+-$/);
  expect(ranked[2]).toMatch(/^2\s+ask\s+2\s+\$0\.0400\s+\$0\.0200\s+-$/);
  expect(report.stdout).toContain(
    'Quota: moving $0.0400 of "Writer"\'s daily quota (unused $0.7000) to "Analyst" would have covered its 2 refused runs',
  );
});

it('says when no other quota had enough unused to cover the refused runs', async () => {
  await runAt('ask', 0.02);
  await runAt('ask', 0.02);
  await runAt('essay', 0.99);
  await expect(client.request(RunStartRequest, { runbook: 'ask', inputs: {} })).rejects.toThrow(/quota/);
  const [move] = (await client.request(BudgetAdviceRequest, {})).moves;
  expect(move).toMatchObject({ agent: 'Analyst', refused: 1, neededUsd: 0.02, from: null, unusedUsd: null });
  expect(move!.text).toBe(
    '"Analyst" had 1 refused run today (about $0.0200 by their forecasts); no other daily quota had that much ' +
      'unused (the most: "Writer", $0.0100): raise "Analyst"\'s quota in keel.yaml',
  );
});
