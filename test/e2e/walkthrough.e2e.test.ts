/**
 * The first-run walkthrough as a new operator meets it: Get started with Keel opens from the
 * command palette with its five steps in order, shows each step's page, and a step's button runs
 * Keel's command and ticks the step off.
 */
import { expect } from 'vitest';
import { test } from './harness/fixture';
import { runCommand, screenshot, waitForTextInFrame } from './harness/workbench';

test('walks from the demo to an approval, each step with its page and a button that ticks it off', async ({
  workspace,
  pages,
}) => {
  const folder = await workspace('first-run', { files: { 'keel.yaml': 'version: 1\n' } });
  const page = await pages.open(folder, 'walkthrough');
  await runCommand(page, 'Welcome: Open Walkthrough');
  await page.keyboard.type('Get started with Keel');
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with Keel' })
    .first()
    .waitFor();
  await page.keyboard.press('Enter');

  const steps = page.locator('.getting-started-step .step-title');
  await steps.first().waitFor();
  await expect
    .poll(() => steps.allTextContents())
    .toEqual([
      'Open the demo company',
      'Trust the workspace',
      'Connect a model, or stay offline',
      'Run an agent',
      'Decide an approval',
    ]);
  // The first step's page, rendered beside the list once the step is selected. VS Code selects it
  // when the walkthrough opens, but once in CI it had not after 60 s: select it as the user would.
  await steps.filter({ hasText: 'Open the demo company' }).click();
  await waitForTextInFrame(page, 'h1:has-text("Open the demo company")', 'npm ci && npm start');

  const trustStep = page.locator('.getting-started-step', { hasText: 'Trust the workspace' });
  await trustStep.click();
  await waitForTextInFrame(page, 'h1:has-text("Trust the workspace")', 'untrusted until you say otherwise');
  // Its button runs Keel: Review Workspace Trust, which completes the step.
  await trustStep.getByRole('button', { name: 'Review Workspace Trust' }).click();
  await expect.poll(() => trustStep.getAttribute('aria-checked'), { timeout: 20_000 }).toBe('true');
  await page.keyboard.press('Escape');
  await screenshot(page, 'walkthrough');
});
