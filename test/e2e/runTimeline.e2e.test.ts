/**
 * A run's timeline as the operator meets it: opened from the sidebar while the run goes on, two
 * steps that ran together side by side, the child run its `runbook` step handed off to listed with
 * an Open button, the run followed live to its end without reopening, a step picked and expanded
 * from the keyboard to its model calls, the child's own timeline opened from the parent's, and the
 * memory the child read opened at its line.
 */
import type { Frame, Page } from 'playwright-core';
import { expect } from 'vitest';
import { ModelServer } from '../helpers/modelServer';
import { test } from './harness/fixture';
import {
  cursorLine,
  findFrame,
  openKeelSidebar,
  screenshot,
  screenshotInThemes,
  waitForIndexedNotes,
} from './harness/workbench';

/** research and pricing start together (`needs: []`); the hand-off waits for both. */
const BRIEF = `apiVersion: keel/v1
name: brief
role: Account researcher
description: Researches a customer and its pricing, then hands the summary to kid.
steps:
  - id: research
    type: llm
    prompt: Research Northwind.
  - id: pricing
    type: llm
    needs: []
    prompt: Price Northwind.
  - id: handoff
    type: runbook
    runbook: kid
    needs: [research, pricing]
`;

const KID = `apiVersion: keel/v1
name: kid
role: Summary writer
description: Finds the customer's note and writes the summary.
steps:
  - id: find
    type: retrieve
    query: Northwind
    k: 1
    filter:
      pathPrefix: memory/
  - id: summarise
    type: llm
    prompt: Summarise Northwind.
`;

/** The frame of the timeline whose heading names `runbook`. */
function timelineOf(p: Page, runbook: string): Promise<Frame> {
  return findFrame(p, `#timeline[data-status] h1:has-text("Run of ${runbook}")`);
}

async function focusedStep(frame: Frame): Promise<string | undefined> {
  return frame.evaluate(() => document.activeElement?.closest<HTMLElement>('article.step')?.dataset.stepId);
}

test('shows a parallel run with a child live, steps expand from the keyboard, the child opens', async ({
  workspace,
  pages,
}) => {
  const models = await ModelServer.start();
  let release: () => void = () => undefined;
  const childMayAnswer = new Promise<void>((resolve) => (release = resolve));
  models.respondWith(async (request) => {
    const prompt = JSON.stringify((request.body as { messages?: unknown } | null)?.messages ?? '');
    // The child's model waits until the test has seen the run live; the parallel pair overlaps.
    if (prompt.includes('Summarise')) await childMayAnswer;
    return {
      content: prompt.includes('Price') ? 'Forty seats at list price.' : 'Retail chain in Leeds.',
      delayMs: 1_500,
    };
  });
  try {
    const folder = await workspace('timeline', {
      from: 'init',
      files: {
        'keel.yaml': [
          'version: 1',
          'models:',
          `  endpoint: { baseUrl: ${models.baseUrl} }`,
          '  tiers:',
          '    fast: { model: test-model, inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }',
          '',
        ].join('\n'),
        'runbooks/brief.yaml': BRIEF,
        'runbooks/kid.yaml': KID,
        'memory/customers/northwind.md':
          '---\ntype: customer\n---\n# Northwind\n\nRetail chain in Leeds; Sam runs their IT.\n',
      },
    });
    const page = await pages.open(folder, 'timeline');
    // The child's retrieve step must find the note: wait until it and both runbooks are indexed.
    await waitForIndexedNotes(page, 3);
    const sidebar = await openKeelSidebar(page);

    // Started from the sidebar; its timeline opens from the runs list while it runs.
    await sidebar.getByRole('button', { name: 'Run brief' }).press('Enter');
    const row = sidebar.locator('li.run', { has: sidebar.locator('.runbook', { hasText: /^brief$/ }) });
    await row.waitFor();
    const runId = await row.getAttribute('data-run-id');
    await row.locator('button.run-open').press('Enter');
    await page.locator('.tab.active', { hasText: `Run ${runId}` }).waitFor();
    const timeline = await timelineOf(page, 'brief');
    expect(await timeline.locator('#timeline').getAttribute('data-live')).toBe('true');
    expect(await timeline.locator('.live').textContent()).toBe('Live: this timeline follows the run.');

    // The parallel pair sits in one row, side by side; the hand-off follows in a row of its own.
    const pair = timeline.locator('li.row[data-lanes="2"]');
    await pair.waitFor();
    expect(
      await pair.locator('article.step').evaluateAll((a) => a.map((s) => (s as HTMLElement).dataset.stepId)),
    ).toEqual(['research', 'pricing']);
    const handoff = timeline.locator('article.step[data-step-id="handoff"]');
    await handoff.locator('.badge', { hasText: 'handed off' }).waitFor();
    await screenshot(page, 'timeline-live');

    // Keyboard: Down moves from research to pricing, Enter opens it to its model calls.
    await timeline.locator('button.step-toggle').first().focus();
    expect(await focusedStep(timeline)).toBe('research');
    await page.keyboard.press('ArrowDown');
    expect(await focusedStep(timeline)).toBe('pricing');
    await page.keyboard.press('Enter');
    const pricing = timeline.locator('article.step[data-step-id="pricing"]');
    await expect.poll(() => pricing.locator('button.step-toggle').getAttribute('aria-expanded')).toBe('true');
    const calls = pricing.locator('table.model-calls tr');
    await calls.nth(1).waitFor();
    expect(await calls.nth(1).textContent()).toContain('fasttest-modelok1');
    expect(await pricing.locator('.part-output').textContent()).toContain('Forty seats at list price.');

    // The child answers; the open timeline follows the run to its end, pricing still open.
    release();
    await timeline.locator('#timeline[data-status="succeeded"]').waitFor({ timeout: 60_000 });
    expect(await timeline.locator('.live').textContent()).toBe('');
    expect(await pricing.locator('button.step-toggle').getAttribute('aria-expanded')).toBe('true');
    await screenshot(page, 'timeline-done');
    await screenshotInThemes(page, timeline, 'timeline-done');

    // The child run opens in a timeline of its own from the hand-off step.
    await handoff.locator('button.step-toggle').press('Enter');
    const open = handoff.getByRole('button', { name: /^Open child run .* of kid$/ });
    await open.waitFor();
    const childId = await handoff.locator('li.child-run').getAttribute('data-run-id');
    expect(await handoff.locator('li.child-run').textContent()).toContain('succeeded');
    await open.press('Enter');
    await page.locator('.tab.active', { hasText: `Run ${childId}` }).waitFor();
    const child = await timelineOf(page, 'kid');
    await child.locator('article.step[data-step-id="summarise"][data-status="succeeded"]').waitFor();
    expect(await child.getByRole('button', { name: `Open parent run ${runId}` }).count()).toBe(1);
    await screenshot(page, 'timeline-child');

    // The memory the child read opens the note at its line.
    await child.locator('article.step[data-step-id="find"] button.step-toggle').press('Enter');
    const read = child.getByRole('button', { name: 'Open memory/customers/northwind.md at line 4' });
    await read.press('Enter');
    await page.locator('.tab.active', { hasText: 'northwind.md' }).waitFor();
    await expect.poll(() => cursorLine(page)).toBe(4);
  } finally {
    release();
    await models.close();
  }
});
