/**
 * The Dashboard as the operator meets it on the demo company (`keel demo`, the built CLI): today's
 * spend against the content agent's quota, the spend per agent, the approval waiting; then the
 * Emergency Stop, pressed from the keyboard and confirmed in the modal, which the view shows and
 * `.keel/emergency-stop.json` records, and Resume, which lifts it. The palette commands do the same.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { MetricsReport } from '@keel/schemas/src/webviews';
import { formatUsd } from '../../extension/src/runs/runList';
import { test } from './harness/fixture';
import { findFrame, runCommand, screenshot } from './harness/workbench';
import { keel } from './harness/workspace';

/** Opens the Dashboard view from the palette, as a user who knows its name does. */
async function openDashboard(p: Page): Promise<Frame> {
  await runCommand(p, 'Keel: Focus on Dashboard View');
  const frame = await findFrame(p, '#dashboard[data-connection]');
  await frame.locator('#dashboard[data-connection="running"]').waitFor({ timeout: 60_000 });
  return frame;
}

/**
 * Gives the Dashboard the room a reader would: the Keel section above it folded, and the side bar
 * dragged wider by its edge.
 */
async function roomForDashboard(p: Page): Promise<void> {
  const keelHeader = p.locator('.pane-header').filter({ has: p.locator('h3.title', { hasText: /^Keel$/i }) });
  await keelHeader.click();
  await expect.poll(() => keelHeader.getAttribute('aria-expanded')).toBe('false');
  const sidebar = p.locator('.part.sidebar');
  const box = (await sidebar.boundingBox())!;
  const edge = { x: box.x + box.width - 1, y: box.y + box.height / 2 };
  await p.mouse.move(edge.x, edge.y);
  await p.mouse.down();
  await p.mouse.move(edge.x + 260, edge.y, { steps: 10 });
  await p.mouse.up();
  await expect.poll(async () => (await sidebar.boundingBox())!.width).toBeGreaterThan(500);
}

/** The modal the stop asks in: answer it with `choice`. */
async function answerModal(p: Page, choice: 'Stop Everything' | 'Cancel'): Promise<void> {
  const dialog = p.locator('.monaco-dialog-box');
  await dialog.locator('.dialog-message-text', { hasText: 'Stop every Keel run now?' }).waitFor();
  if (choice === 'Cancel') await p.keyboard.press('Escape');
  else await dialog.getByRole('button', { name: choice }).click();
  await dialog.waitFor({ state: 'hidden' });
}

function stopFileExists(folder: string): Promise<boolean> {
  return access(join(folder, '.keel', 'emergency-stop.json')).then(
    () => true,
    () => false,
  );
}

test('the dashboard shows the demo spend, and the emergency stop works from it', async ({
  server,
  workspace,
  pages,
}) => {
  // `keel demo`, and what `keel report --json` says of it (the expected figures).
  const started = Date.now();
  const folder = await workspace('fjord', { from: 'demo' });
  console.info(`keel demo took ${Date.now() - started} ms`);
  const report = JSON.parse(await keel(server, ['report', '--json'], folder)) as MetricsReport;
  const content = report.agents.find((a) => a.agent === 'content');
  expect(content?.costUsd).toBeGreaterThan(0);

  const opened = Date.now();
  const page = await pages.open(folder, 'dashboard');
  const dashboard = await openDashboard(page);
  await roomForDashboard(page);

  // Today's spend against the content agent's daily quota of $0.05 (keel.yaml of the demo).
  const quota = dashboard.locator('.quota[data-agent="content"]');
  await quota.waitFor();
  expect(await quota.locator('.quota-text').textContent()).toBe(
    `${formatUsd(content!.costUsd)} of $0.05 (<1%)`,
  );
  expect(await quota.locator('.quota-label').textContent()).toBe('Within quota');
  expect(await quota.getByRole('meter').getAttribute('aria-label')).toContain('content, today');
  // The onboarding plan and the reply to Dana's mail wait for approval; nothing runs; the index
  // holds the demo's notes.
  // The demo leaves three runs waiting for you: inbox-triage, onboarding and payment-received.
  await dashboard.locator('[data-field="pending-approvals"]', { hasText: /^3$/ }).waitFor();
  expect(await dashboard.locator('[data-field="running-runs"]').textContent()).toBe('0');
  await dashboard.locator('[data-field="index-state"]', { hasText: /^ready$/ }).waitFor();
  // Each agent's cost in the table, and in words on the spend chart.
  const contentRow = dashboard.locator('table.agents tbody tr', { hasText: 'content' });
  expect(await contentRow.locator('td').last().textContent()).toBe(formatUsd(content!.costUsd));
  const spendLabel = await dashboard.locator('canvas#spend-chart').getAttribute('aria-label');
  expect(spendLabel).toContain(`content ${formatUsd(content!.costUsd)}`);
  for (const agent of report.agents) expect(spendLabel).toContain(agent.agent);
  console.info(`workbench to dashboard with the demo's figures: ${Date.now() - opened} ms`);
  await screenshot(page, 'dashboard');

  // Emergency Stop from the keyboard, confirmed in the modal.
  const header = dashboard.locator('header.control');
  expect(await header.getAttribute('data-stopped')).toBe('false');
  await dashboard.locator('#emergency-stop').press('Enter');
  await answerModal(page, 'Stop Everything');
  const stoppedAt = Date.now();
  await dashboard.locator('header.control[data-stopped="true"]').waitFor();
  console.info(`stop confirmed to the view showing it: ${Date.now() - stoppedAt} ms`);
  expect(await header.locator('.control-state').textContent()).toMatch(
    /^Stopped since .+ \(Emergency Stop pressed in the editor\)\./,
  );
  expect(await dashboard.locator('#emergency-stop').isHidden()).toBe(true);
  expect(await stopFileExists(folder)).toBe(true);
  await screenshot(page, 'dashboard-stopped');

  // Resume, from the keyboard: the Resume button took the focus the stop button had.
  const resume = dashboard.locator('#resume');
  await expect.poll(() => resume.evaluate((el) => el === document.activeElement)).toBe(true);
  await resume.press('Enter');
  await dashboard.locator('header.control[data-stopped="false"]').waitFor();
  const stop = dashboard.locator('#emergency-stop');
  await expect.poll(() => stop.evaluate((el) => el === document.activeElement)).toBe(true);
  await expect.poll(() => stopFileExists(folder)).toBe(false);

  // From the palette: cancelling the modal changes nothing; confirming stops; Keel: Resume lifts it.
  await runCommand(page, 'Keel: Emergency Stop');
  await answerModal(page, 'Cancel');
  expect(await header.getAttribute('data-stopped')).toBe('false');
  expect(await stopFileExists(folder)).toBe(false);
  await runCommand(page, 'Keel: Emergency Stop');
  await answerModal(page, 'Stop Everything');
  await dashboard.locator('header.control[data-stopped="true"]').waitFor();
  expect(await stopFileExists(folder)).toBe(true);
  await runCommand(page, 'Keel: Resume');
  await dashboard.locator('header.control[data-stopped="false"]').waitFor();
  await expect.poll(() => stopFileExists(folder)).toBe(false);

  // In a dark theme the page and its charts take the theme's colours.
  await runCommand(page, 'Preferences: Toggle between Light/Dark Themes');
  await dashboard.locator('body.vscode-dark').waitFor();
  await dashboard.locator('canvas#spend-chart').waitFor();
  await screenshot(page, 'dashboard-dark');
});
