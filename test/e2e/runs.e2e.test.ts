/**
 * Runbooks and runs as the operator meets them in the sidebar: a valid runbook and a broken one
 * listed (the broken one with its problem, which opens the file at that line); a run started from
 * the keyboard, its input asked and checked, watched until it succeeds without a reload; its trace
 * opened from the list; the file its connector wrote on disk. And the model API key: set from the
 * palette, handed to every daemon the editor starts, never written to a log or a file.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { expect } from 'vitest';
import { ModelServer } from '../helpers/modelServer';
import { test } from './harness/fixture';
import {
  cursorLine,
  openKeelSidebar,
  openTraceAsMarkdown,
  runCommand,
  screenshot,
  waitForIndexedNotes,
} from './harness/workbench';
import type { WorkspaceSpec } from './harness/workspace';

/** Needs no model: find the customer's note, then write its path to the outbox. */
const WELCOME = `apiVersion: keel/v1
name: welcome
role: Customer onboarding lead
description: Writes a welcome note that points at the customer's memory.
inputs:
  customer:
    type: string
    description: Which customer to welcome
steps:
  - id: find
    type: retrieve
    query: '{{ inputs.customer }}'
    k: 1
    filter:
      pathPrefix: memory/
  - id: write
    type: connector
    use: fs.outbox@1
    with:
      path: welcome.md
      content: '{{ steps.find.output[0].path }}'
`;

/** A typo in a step type, the mistake USER-JOURNEY.md has Maya make. */
const BROKEN = `apiVersion: keel/v1
name: broken
role: Sales follow-up writer
description: Drafts a follow-up email.
steps:
  - id: draft
    type: lmm
    prompt: Write a follow-up.
`;
const BROKEN_LINE = BROKEN.split('\n').findIndex((line) => line.includes('type: lmm')) + 1;

/** A company's workspace: northwind's note, the welcome runbook and the broken one, plus `files`. */
function company(files: Record<string, string> = {}): WorkspaceSpec {
  return {
    from: 'init',
    files: {
      'memory/customers/northwind.md':
        '---\ntype: customer\n---\n# Northwind\n\nRetail chain in Leeds; Sam runs their IT.\n',
      'runbooks/welcome.yaml': WELCOME,
      'runbooks/broken.yaml': BROKEN,
      ...files,
    },
  };
}

/** The lines the active editor shows (Monaco draws spaces as no-break spaces). */
async function visibleEditorText(p: Page): Promise<string> {
  const lines = p.locator('.editor-group-container.active .monaco-editor .view-lines');
  return ((await lines.textContent()) ?? '').replace(/\u00a0/g, ' ');
}

/** Finds `text` in the active editor with Ctrl+F, as a reader of a long trace does. */
async function findInEditor(p: Page, text: string): Promise<void> {
  await p.keyboard.press('Control+F');
  const findInput = p.locator(
    '.editor-group-container.active .find-widget.visible textarea[aria-label="Find"]',
  );
  await findInput.waitFor();
  await findInput.fill(text);
  await p.keyboard.press('Enter');
  await expect.poll(() => visibleEditorText(p)).toContain(text);
  await p.keyboard.press('Escape');
}

function runRow(sidebar: Frame, runbook: string) {
  return sidebar.locator('ol.run-list li.run', { hasText: runbook }).first();
}

test('lists runbooks with their problems, runs one from the keyboard and shows its trace', async ({
  workspace,
  pages,
}) => {
  const folder = await workspace('runs', company());
  const page = await pages.open(folder, 'runs');
  // The memory index holds Markdown and YAML: the note and both runbooks. The run's retrieve step
  // must find the note, so wait until it is in.
  await waitForIndexedNotes(page, 3);
  const sidebar = await openKeelSidebar(page);

  // Both runbooks are listed: the valid one with its role and a Run button, the broken one with its problem.
  const welcome = sidebar.locator('li.runbook[data-runbook="welcome"]');
  await welcome.waitFor();
  expect(await welcome.textContent()).toContain('Customer onboarding lead');
  const problem = sidebar.locator('li.runbook.invalid[data-runbook="broken"] button.problem');
  await problem.waitFor();
  expect(await problem.textContent()).toMatch(new RegExp(`^runbooks/broken\\.yaml:${BROKEN_LINE}:\\d+ `));
  expect(await sidebar.locator('li.runbook[data-runbook="broken"] button.run').count()).toBe(0);

  // The problem opens the runbook at its line.
  await problem.press('Enter');
  await page.locator('.tab.active', { hasText: 'broken.yaml' }).waitFor();
  await expect.poll(() => cursorLine(page)).toBe(BROKEN_LINE);

  // Run from the keyboard; the required input cannot be left empty.
  await sidebar.getByRole('button', { name: 'Run welcome' }).press('Enter');
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('.quick-input-title', { hasText: 'Run welcome: customer' }).waitFor();
  await page.keyboard.press('Enter');
  await quickInput.locator('.quick-input-message', { hasText: 'customer is required.' }).waitFor();
  await page.keyboard.type('Northwind');
  await page.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden' });

  // The run shows up and reaches succeeded in place, pushed by the daemon.
  const row = runRow(sidebar, 'welcome');
  await row.waitFor();
  await sidebar.locator('li.run[data-status="succeeded"]', { hasText: 'welcome' }).waitFor();
  expect(await row.textContent()).toMatch(/2\/2 steps · \$0\.00/);
  expect(await row.locator('button.cancel').count()).toBe(0);
  await screenshot(page, 'runs-sidebar');

  // The connector wrote the path of the note the retrieve step found.
  expect(await readFile(join(folder, 'outbox', 'welcome.md'), 'utf8')).toContain(
    'memory/customers/northwind.md',
  );

  // Its trace opens from the list and shows both steps.
  const id = await row.getAttribute('data-run-id');
  await row.locator('button.run-open').press('Enter');
  await openTraceAsMarkdown(page, id!);
  await expect.poll(() => visibleEditorText(page)).toContain('# Run of welcome: ✓ succeeded');
  await findInEditor(page, '1. find (retrieve): succeeded');
  await findInEditor(page, '2. write (connector): succeeded');
  await screenshot(page, 'runs-trace');

  // The memory the retrieve step read is a link to the note, at its line.
  // Found, the cursor sits in the link; Open Link follows it from the keyboard (a pointer click
  // could land on an overlay the workbench shows for a moment).
  await findInEditor(page, 'memory/customers/northwind.md:4-');
  await page
    .locator('.editor-group-container.active .view-lines .detected-link', {
      hasText: 'memory/customers/northwind.md:4-',
    })
    .first()
    .waitFor();
  await runCommand(page, 'Open Link');
  await page.locator('.tab.active', { hasText: 'northwind.md' }).waitFor();
  await expect.poll(() => cursorLine(page)).toBe(4);
});

/** Every file under `dir` whose content includes `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(needle)) found.push(path);
  }
  return found;
}

/** Developer: Set Log Level… > Keel > Trace: the protocol trace, params and all, goes to Keel's log. */
async function traceKeelProtocol(p: Page): Promise<void> {
  await runCommand(p, 'Developer: Set Log Level');
  const row = (text: string) => p.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
  await p.keyboard.type('Keel');
  await row('Keel').waitFor();
  await p.keyboard.press('Enter');
  await row('Trace').waitFor();
  await p.keyboard.type('Trace');
  await p.keyboard.press('Enter');
  await p.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

async function startRunFromPalette(p: Page, runbook: string, customer: string): Promise<void> {
  await runCommand(p, 'Keel: Run Runbook');
  const quickInput = p.locator('.quick-input-widget');
  await quickInput.locator('.monaco-list-row', { hasText: runbook }).first().waitFor();
  await p.keyboard.type(runbook);
  await p.keyboard.press('Enter');
  // An enum input is a pick with its default active: Enter takes it.
  await quickInput.locator('.quick-input-title', { hasText: `Run ${runbook}: tone` }).waitFor();
  await quickInput.locator('.monaco-list-row.focused', { hasText: 'warm' }).waitFor();
  await p.keyboard.press('Enter');
  await quickInput.locator('.quick-input-title', { hasText: `Run ${runbook}: customer` }).waitFor();
  await p.keyboard.type(customer);
  await p.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden' });
}

test('hands the model API key to every daemon it starts, and never logs it', async ({
  server,
  workspace,
  pages,
}) => {
  const apiKey = `sk-e2e-${randomBytes(12).toString('hex')}`;
  const models = await ModelServer.start({ apiKey });
  models.respondWith(() => ({ content: 'Welcome aboard, Northwind!' }));
  try {
    const folder = await workspace(
      'api-key',
      company({
        'keel.yaml': [
          'version: 1',
          'models:',
          '  endpoint:',
          `    baseUrl: ${models.baseUrl}`,
          // Named, and unset in code-server's environment: the key can only come from the editor.
          '    apiKeyEnv: KEEL_E2E_MODEL_KEY',
          '  tiers:',
          '    fast: { model: test-model, inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }',
          '',
        ].join('\n'),
        'runbooks/greet.yaml': [
          'apiVersion: keel/v1',
          'name: greet',
          'role: Customer onboarding lead',
          'description: Writes a one-line welcome.',
          'inputs:',
          '  tone: { type: string, enum: [warm, formal], default: warm }',
          '  customer: { type: string }',
          'steps:',
          '  - id: hello',
          '    type: llm',
          "    prompt: 'Write a {{ inputs.tone }} one-line welcome for {{ inputs.customer }}.'",
          '',
        ].join('\n'),
        // With the log level at Trace, this makes the language client log every message's params.
        '.vscode/settings.json': JSON.stringify({ 'keel.trace.server': 'verbose' }),
      }),
    );
    const page = await pages.open(folder, 'api-key');
    await waitForIndexedNotes(page, 4);
    await traceKeelProtocol(page);
    const sidebar = await openKeelSidebar(page);
    await sidebar.locator('li.runbook[data-runbook="greet"]').waitFor();

    await runCommand(page, 'Keel: Set Model API Key');
    await page
      .locator('.quick-input-widget .quick-input-title', { hasText: 'Keel: Set Model API Key' })
      .waitFor();
    // The key is asked for, kept for and sent to the endpoint keel.yaml names, by its origin.
    expect(await page.locator('.quick-input-widget .quick-input-title').textContent()).toContain(
      `Keel: Set Model API Key for ${new URL(models.baseUrl).origin}`,
    );
    await page.keyboard.type(apiKey);
    await page.keyboard.press('Enter');
    await page.locator('.notifications-toasts', { hasText: 'model API key saved' }).waitFor();

    await startRunFromPalette(page, 'greet', 'Northwind');
    await sidebar.locator('li.run[data-status="succeeded"]', { hasText: 'greet' }).waitFor();
    expect(models.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${apiKey}`]);

    // A new daemon gets the key from the editor again.
    const firstPid = await sidebar.locator('[data-field="pid"]').textContent();
    await runCommand(page, 'Keel: Restart Daemon');
    // Straight away, as an operator would: the command waits for the daemon that is starting.
    await startRunFromPalette(page, 'greet', 'Contoso');
    expect(await sidebar.locator('[data-field="pid"]').textContent()).not.toBe(firstPid);
    await expect
      .poll(() => sidebar.locator('li.run[data-status="succeeded"]', { hasText: 'greet' }).count())
      .toBe(2);
    expect(models.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${apiKey}`,
      `Bearer ${apiKey}`,
    ]);
    await screenshot(page, 'api-key-runs');

    // The protocol trace did log the handover, with the key blanked out; no file holds the key.
    await expect
      .poll(() => filesContaining(join(server.root, 'user-data', 'logs'), 'keel/models/setApiKey'))
      .not.toEqual([]);
    expect(await filesContaining(join(server.root, 'user-data', 'logs'), apiKey)).toEqual([]);
    expect(await filesContaining(folder, apiKey)).toEqual([]);
  } finally {
    await models.close();
  }
});

test('cancels a running run from the sidebar, and its open trace follows it live', async ({
  workspace,
  pages,
}) => {
  const models = await ModelServer.start();
  // A model that never answers: the run stays in its llm step until the operator cancels it.
  models.respondWith(() => ({ fault: { kind: 'hang' } }));
  try {
    const folder = await workspace(
      'cancel',
      company({
        'keel.yaml': [
          'version: 1',
          'models:',
          `  endpoint: { baseUrl: ${models.baseUrl} }`,
          '  tiers:',
          '    fast: { model: test-model }',
          '',
        ].join('\n'),
        'runbooks/stuck.yaml': [
          'apiVersion: keel/v1',
          'name: stuck',
          'role: Writer',
          'description: Asks a model that never answers.',
          'steps:',
          '  - id: ask',
          '    type: llm',
          '    prompt: Say hello.',
          '',
        ].join('\n'),
      }),
    );
    const page = await pages.open(folder, 'cancel');
    const sidebar = await openKeelSidebar(page);

    // A runbook without inputs starts at once.
    await sidebar.getByRole('button', { name: 'Run stuck' }).press('Enter');
    const running = sidebar.locator('li.run[data-status="running"]', { hasText: 'stuck' });
    await running.waitFor();
    await expect.poll(() => models.requests.length).toBe(1);

    const runningId = await running.getAttribute('data-run-id');
    await running.locator('button.run-open').press('Enter');
    await openTraceAsMarkdown(page, runningId!);
    await expect.poll(() => visibleEditorText(page)).toContain('# Run of stuck: ◐ running');
    expect(await visibleEditorText(page)).toContain('_Live: this trace refreshes as the run goes on._');

    await sidebar.getByRole('button', { name: 'Cancel run of stuck' }).press('Enter');
    await sidebar.locator('li.run[data-status="cancelled"]', { hasText: 'stuck' }).waitFor();
    expect(await sidebar.locator('li.run button.cancel').count()).toBe(0);
    // The trace, still open, shows the end without being reopened.
    await expect.poll(() => visibleEditorText(page)).toContain('# Run of stuck: ⊘ cancelled');
    await screenshot(page, 'cancelled-run');
  } finally {
    await models.close();
  }
});
