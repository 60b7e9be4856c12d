/**
 * The cost forecast in the Run dialog: a runbook with two past runs ($0.02 and $0.03, run with
 * `keel run` against the test model server) shows its p50–p95 in the title of the input it asks,
 * before the operator confirms; above keel.yaml's `approvals.costAbove` it says the run will wait,
 * and the run started then waits for the operator before its first step.
 */
import { expect } from 'vitest';
import { formatUsd } from '../../extension/src/runs/runList';
import { ModelServer } from '../helpers/modelServer';
import { trustKeelWorkspace, type CodeServer } from './harness/codeServer';
import { test as e2e } from './harness/fixture';
import { findFrame, openKeelSidebar, runCommand, screenshot } from './harness/workbench';
import { keel, type WorkspaceBuilder } from './harness/workspace';

const ASK = `apiVersion: keel/v1
name: ask
role: Analyst
description: Answers one question with one model call.
budget: { maxUsd: 5 }
inputs:
  topic:
    type: string
    description: What to ask about
steps:
  - id: answer
    type: llm
    prompt: 'Say something about {{ inputs.topic }}.'
    maxOutputTokens: 10
`;

const test = e2e.extend('models', { scope: 'file' }, async ({}, { onCleanup }) => {
  const models = await ModelServer.start();
  onCleanup(() => models.close());
  return models;
});

/** A workspace whose `ask` runbook has run twice from the terminal, at $0.02 and $0.03. */
async function workspaceWithHistory(
  server: CodeServer,
  workspace: WorkspaceBuilder,
  models: ModelServer,
): Promise<string> {
  const folder = await workspace('forecast', {
    from: 'init',
    files: {
      'keel.yaml': `version: 1
approvals:
  costAbove: 0.025
models:
  endpoint: { baseUrl: ${models.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
`,
      'runbooks/ask.yaml': ASK,
    },
  });
  await trustKeelWorkspace(server, folder);
  // With no history the $5 budget is above costAbove: the first run waits and is continued; the
  // second, forecast at $0.02, runs at once.
  for (const [tokens, status] of [
    [20, 'waiting_operator'],
    [30, 'succeeded'],
  ] as const) {
    models.enqueue({ content: 'ok', usage: { prompt_tokens: tokens, completion_tokens: 0 } });
    const stdout = await keel(server, ['run', 'ask', '--input', 'topic=x', '--json'], folder);
    const started = JSON.parse(stdout) as { id: string; status: string };
    expect(started.status).toBe(status);
    if (status === 'succeeded') continue;
    const continued = await keel(server, ['checkpoint', started.id, 'continue', '--json'], folder);
    expect(JSON.parse(continued)).toMatchObject({ status: 'succeeded' });
  }
  return folder;
}

test('shows the forecast in the Run dialog before the run is confirmed, and the run waits above costAbove', async ({
  server,
  workspace,
  models,
  pages,
}) => {
  const folder = await workspaceWithHistory(server, workspace, models);
  expect(models.requests).toHaveLength(2);
  const page = await pages.open(folder, 'forecast');
  const sidebar = await openKeelSidebar(page);

  await runCommand(page, 'Keel: Run Runbook');
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('.monaco-list-row', { hasText: 'ask' }).first().waitFor();
  await page.keyboard.type('ask');
  await page.keyboard.press('Enter');
  // p50 of $0.02 and $0.03 is $0.025; p95 lies 95% of the way: $0.0295, above $0.025. VS Code
  // adds the step count (one input) to the title.
  const title = quickInput.locator('.quick-input-title', { hasText: 'Run ask: topic' });
  await title.waitFor();
  expect(await title.textContent()).toBe(
    'Run ask: topic — forecast $0.0250–$0.0295 (p50–p95 of 2 runs) · above costAbove $0.0250: waits for your OK (1/1)',
  );
  await screenshot(page, 'forecast-run-dialog');
  await page.keyboard.type('pricing');
  await page.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden' });

  // The run it started waits for the operator; no model call was made for it.
  await sidebar
    .locator('li.run[data-status="waiting_operator"]', { hasText: 'ask' })
    .waitFor({ timeout: 30_000 });
  expect(models.requests).toHaveLength(2);
  await screenshot(page, 'forecast-run-waiting');

  // The dashboard's Budget advice card: $0.05 spent over two successful runs of three.
  await runCommand(page, 'Keel: Focus on Dashboard View');
  const dashboard = await findFrame(page, '#dashboard[data-connection]');
  const advice = dashboard.locator('#section-advice .advice-agent');
  await advice.first().waitFor({ timeout: 60_000 });
  expect(await advice.allTextContents()).toEqual([`ask: ${formatUsd(0.025)} per successful run (2 of 3)`]);
  expect(await dashboard.locator('#section-advice .muted').textContent()).toBe(
    'No run was refused by a quota in its current period.',
  );
  await advice.first().scrollIntoViewIfNeeded();
  await screenshot(page, 'forecast-dashboard-advice');
});
