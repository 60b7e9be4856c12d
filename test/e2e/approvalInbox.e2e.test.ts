/**
 * The approval inbox as the operator meets it: two runs (their model answer replayed from a
 * cassette) each propose a change to a customer's note; the sidebar's "Open inbox" opens one list of
 * both, each with the agent's reasoning, why it waits, the run's inputs and spend and the note it
 * read, in the light, dark and high-contrast themes; from the keyboard alone the operator moves down, rejects one with a reason (the run ends
 * failed, saying why) and approves the other (written and committed), and the inbox says nothing waits.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame } from 'playwright-core';
import { expect } from 'vitest';
import { RunStartRequest, type Cassette } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { hashRequest } from '../../daemon/src/conductor/models/modelGateway';
import type { CodeServer } from './harness/codeServer';
import { test } from './harness/fixture';
import {
  findFrame,
  openKeelSidebar,
  screenshot,
  screenshotInThemes,
  waitForIndexedNotes,
} from './harness/workbench';
import { git } from './harness/workspace';

const RUNBOOK = 'account-notes';
const PROMPT = 'What changed at this customer? Answer with one line.';
const ANSWER = 'Main contact: Sam Okafor, operations.';
const note = (name: string): string => `---
type: customer
---
# ${name}

Main contact: Lena Berg, operations.
`;

/** Looks the customer up, asks the model (answered from the cassette), proposes the note's new text. */
const ACCOUNT_NOTES = `apiVersion: keel/v1
name: ${RUNBOOK}
role: Account manager
description: Keeps a customer's note current.
inputs:
  customer: { type: string }
steps:
  - { id: look, type: retrieve, query: "{{ inputs.customer }} main contact", k: 1 }
  - { id: draft, type: llm, prompt: "${PROMPT}" }
  - id: record
    type: propose
    path: "memory/customers/{{ inputs.customer }}.md"
    summary: "New contact at {{ inputs.customer }}"
    reasoning: "The last call with {{ inputs.customer }} named a new main contact."
    content: |
      ---
      type: customer
      ---
      # {{ inputs.customer }}

      {{ steps.draft.output }}
`;
const CASSETTE = `runbooks/tests/${RUNBOOK}.cassette.json`;

function cassette(): Cassette {
  return {
    version: 1,
    runbook: RUNBOOK,
    recordedAt: '2026-12-03T09:00:00.000Z',
    entries: [
      {
        stepId: 'draft',
        call: 0,
        requestHash: hashRequest({ messages: [{ role: 'user', content: PROMPT }], maxOutputTokens: 1_000 }),
        response: {
          content: ANSWER,
          toolCalls: [],
          finishReason: 'stop',
          usage: { inputTokens: 20, outputTokens: 12 },
          model: 'recorded-model',
        },
      },
    ],
    retrievals: [],
  };
}

async function startRun(server: CodeServer, folder: string, customer: string): Promise<string> {
  process.env.KEEL_RUNTIME_DIR = server.runtimeDir;
  const client = await attachToDaemon(folder);
  try {
    return (
      await client.request(RunStartRequest, {
        runbook: RUNBOOK,
        inputs: { customer },
        replayCassette: CASSETTE,
      })
    ).id;
  } finally {
    await client.close();
  }
}

/** The inbox row that is selected, by its proposal's summary. */
async function selectedSummary(inbox: Frame): Promise<string | null> {
  return inbox.locator('li.inbox-row[aria-selected="true"] .row-summary').textContent();
}

test('lists both proposals with their context and decides them from the keyboard', async ({
  server,
  workspace,
  pages,
}) => {
  const folder = await workspace('inbox', {
    from: 'init',
    files: {
      'memory/customers/acme.md': note('acme'),
      'memory/customers/bolt.md': note('bolt'),
      [`runbooks/${RUNBOOK}.yaml`]: ACCOUNT_NOTES,
      [CASSETTE]: JSON.stringify(cassette(), null, 2),
    },
    commit: { message: 'Customers' },
  });

  const page = await pages.open(folder, 'approval-inbox');
  await waitForIndexedNotes(page, 3);
  const sidebar = await openKeelSidebar(page);
  const acme = await startRun(server, folder, 'acme');
  await sidebar.locator('li.approval', { hasText: 'New contact at acme' }).waitFor();
  const bolt = await startRun(server, folder, 'bolt');
  await sidebar.locator('li.approval', { hasText: 'New contact at bolt' }).waitFor();

  await sidebar.getByRole('button', { name: /^Open the approval inbox/ }).press('Enter');
  const inbox = await findFrame(page, '#inbox h1:has-text("2 waiting for you")');
  // Same risk: the oldest first, and its details beside the list.
  expect(await selectedSummary(inbox)).toBe('New contact at acme');
  const details = inbox.locator('.inbox-details');
  await details
    .locator('.reasoning', { hasText: 'The last call with acme named a new main contact.' })
    .waitFor();
  // What it wants to do, inline: the note's new line, added (asked of the host once selected).
  await details.locator('.diff-line.added .diff-text', { hasText: ANSWER }).waitFor();
  expect(await details.textContent()).toContain('No approvals rule in keel.yaml lets this change through');
  expect(await details.locator('pre.inputs').textContent()).toContain('"customer": "acme"');
  await details.getByRole('button', { name: /^Open memory\/customers\/acme\.md at line/ }).waitFor();
  await screenshot(page, 'approval-inbox');
  await screenshotInThemes(page, inbox, 'approval-inbox');

  // Keyboard only: down to bolt, reject it with a reason.
  await inbox.locator('li.inbox-row[aria-selected="true"]').focus();
  await page.keyboard.press('j');
  await expect.poll(() => selectedSummary(inbox)).toBe('New contact at bolt');
  await page.keyboard.press('r');
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('.quick-input-title', { hasText: 'Reject: New contact at bolt' }).waitFor();
  await page.keyboard.type('bolt has no new contact; that call was about acme');
  await page.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden' });
  await inbox.locator('#inbox h1', { hasText: '1 waiting for you' }).waitFor();
  await sidebar.locator(`li.run[data-run-id="${bolt}"][data-status="failed"]`).waitFor();

  // Then approve acme with `a`.
  await inbox.locator('li.inbox-row[aria-selected="true"]').focus();
  expect(await selectedSummary(inbox)).toBe('New contact at acme');
  await page.keyboard.press('a');
  await inbox.locator('#inbox h1', { hasText: 'Nothing waits for your approval' }).waitFor();
  await sidebar.locator(`li.run[data-run-id="${acme}"][data-status="succeeded"]`).waitFor();
  await screenshot(page, 'approval-inbox-empty');

  expect(await readFile(join(folder, 'memory/customers/acme.md'), 'utf8')).toContain(ANSWER);
  expect(await readFile(join(folder, 'memory/customers/bolt.md'), 'utf8')).toBe(note('bolt'));
  expect(await git(folder, 'log', '--format=%s', '-5')).toContain('New contact at acme');
});
