/**
 * Approvals as the operator meets them: a run (its model answer replayed from a cassette) proposes
 * a change to a customer note outside memory/working/; the proposal shows up in the sidebar with a
 * badge on the Keel icon, opens as a red/green diff, and is approved (the file on disk and a git
 * commit with its trailers), edited before approving (the correction recorded in memory/feedback/),
 * or rejected with a reason (the run ends failed, saying why).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { RunStartRequest, type Cassette } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { hashRequest } from '../../daemon/src/conductor/models/modelGateway';
import { WorkspaceLock } from '../../daemon/src/runtime/workspaceLock';
import type { CodeServer } from './harness/codeServer';
import { test } from './harness/fixture';
import {
  openKeelSidebar,
  openTraceAsMarkdown,
  runCommand,
  screenshot,
  waitForIndexedNotes,
} from './harness/workbench';
import { git, type WorkspaceSpec } from './harness/workspace';

const RUNBOOK = 'account-notes';
const NOTE = 'memory/customers/acme.md';
const NOTE_TEXT = `---
type: customer
---
# Acme Logistics

Logistics firm in Rotterdam.
Main contact: Lena Berg, operations.
`;
const PROMPT = "Who is Acme Logistics' main contact now? Answer with one line.";
const ANSWER = 'Main contact: Sam Okafor, operations (Lena Berg left in October).';
const SUMMARY = 'New main contact at Acme';
const PROPOSED_TEXT = NOTE_TEXT.replace('Main contact: Lena Berg, operations.', ANSWER);

/** One model step (answered from the cassette) and a propose step that rewrites the customer's note. */
const ACCOUNT_NOTES = `apiVersion: keel/v1
name: ${RUNBOOK}
role: Account manager
description: Keeps a customer's note current with what the last call said.
steps:
  - id: draft
    type: llm
    prompt: "${PROMPT}"
  - id: record
    type: propose
    path: ${NOTE}
    summary: ${SUMMARY}
    content: |
      ---
      type: customer
      ---
      # Acme Logistics

      Logistics firm in Rotterdam.
      {{ steps.draft.output }}
`;
const CASSETTE = `runbooks/tests/${RUNBOOK}.cassette.json`;

/** The recorded answer to the draft step: the hash is the daemon's own, over the exact prompt it sends. */
function cassette(): Cassette {
  const messages = [{ role: 'user' as const, content: PROMPT }];
  return {
    version: 1,
    runbook: RUNBOOK,
    recordedAt: '2026-11-26T09:00:00.000Z',
    entries: [
      {
        stepId: 'draft',
        call: 0,
        requestHash: hashRequest({ messages, maxOutputTokens: 1_000 }),
        response: {
          content: ANSWER,
          toolCalls: [],
          finishReason: 'stop',
          usage: { inputTokens: 24, outputTokens: 18 },
          model: 'recorded-model',
        },
      },
    ],
    retrievals: [],
  };
}

/** A Keel workspace in git: the customer's note, the runbook and its cassette, all committed. */
const APPROVALS: WorkspaceSpec = {
  from: 'init',
  files: {
    [NOTE]: NOTE_TEXT,
    [`runbooks/${RUNBOOK}.yaml`]: ACCOUNT_NOTES,
    [CASSETTE]: JSON.stringify(cassette(), null, 2),
  },
  commit: { message: 'Acme' },
};

/**
 * Starts the runbook with its model answers replayed from the cassette, as `keel run` from a
 * terminal would: through the socket of the daemon the editor started. The editor hears of the
 * run and its proposal from the daemon alone.
 */
async function startReplayedRun(server: CodeServer, folder: string): Promise<string> {
  // The CLI finds the socket in its per-user runtime directory, never in the lock: be that CLI.
  process.env.KEEL_RUNTIME_DIR = server.runtimeDir;
  const holder = await WorkspaceLock.holder(folder);
  if (!holder) throw new Error(`no Keel daemon holds ${folder}`);
  const client = await attachToDaemon(folder);
  try {
    const started = await client.request(RunStartRequest, {
      runbook: RUNBOOK,
      inputs: {},
      replayCassette: CASSETTE,
    });
    return started.id;
  } finally {
    await client.close();
  }
}

/** Waits in the opened workspace for its daemon, and opens the sidebar with nothing waiting. */
async function openWorkspace(page: Page): Promise<Frame> {
  // The note and the runbook are indexed: the daemon is up and serving.
  await waitForIndexedNotes(page, 2);
  const sidebar = await openKeelSidebar(page);
  await sidebar
    .locator('section.approvals p', { hasText: 'Nothing is waiting for your approval.' })
    .waitFor();
  return sidebar;
}

/** Starts the run and waits until the sidebar, the badge and the status bar show its proposal. */
async function runUntilProposed(
  server: CodeServer,
  page: Page,
  folder: string,
  sidebar: Frame,
): Promise<string> {
  const runId = await startReplayedRun(server, folder);
  await sidebar.locator(`li.run[data-run-id="${runId}"][data-status="waiting_approval"]`).waitFor();
  const approval = sidebar.locator('li.approval', { hasText: SUMMARY });
  await approval.waitFor();
  expect(await approval.textContent()).toContain(`${RUNBOOK} · step record`);
  expect(await approval.locator('ul.approval-files li').textContent()).toBe(`~modify${NOTE}`);
  await activityBadge(page, '1').waitFor();
  await page.locator('.statusbar-item[aria-label*="1 approval waiting for you"]').waitFor();
  return runId;
}

function activityBadge(p: Page, count: string) {
  return p.locator('.activitybar .action-item:has(a[aria-label^="Keel"]) .badge-content', { hasText: count });
}

function diffEditor(p: Page) {
  return p.locator('.editor-group-container.active .monaco-diff-editor');
}

/** The diff editor shows the removed line in red on the left and the added line in green on the right. */
async function expectRedAndGreen(p: Page): Promise<void> {
  const diff = diffEditor(p);
  await diff.locator('.editor.original .line-delete').first().waitFor();
  await diff.locator('.editor.modified .line-insert').first().waitFor();
  const text = (side: string) => editorText(diff.locator(`.editor.${side} .view-lines`));
  await expect.poll(() => text('original')).toContain('Main contact: Lena Berg, operations.');
  await expect.poll(() => text('modified')).toContain(ANSWER);
}

/** The lines an editor shows (Monaco draws spaces as no-break spaces). */
async function editorText(lines: Locator): Promise<string> {
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
  const lines = p.locator('.editor-group-container.active .monaco-editor .view-lines');
  await expect.poll(() => editorText(lines)).toContain(text);
  await p.keyboard.press('Escape');
}

/** A button in the diff editor's title bar, by its command title. */
function titleAction(p: Page, title: string) {
  return p.locator(`.editor-group-container.active .editor-actions a.action-label[aria-label^="${title}"]`);
}

function trailers(message: string): Record<string, string> {
  return Object.fromEntries(
    [...message.matchAll(/^(Keel-[A-Za-z]+): (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]),
  );
}

test('opens a proposal from the sidebar as a diff and approves it: file written, committed', async ({
  server,
  workspace,
  pages,
}) => {
  const folder = await workspace('approve', APPROVALS);
  const page = await pages.open(folder, 'approve');
  const sidebar = await openWorkspace(page);
  const before = await git(folder, 'rev-parse', 'HEAD');
  const runId = await runUntilProposed(server, page, folder, sidebar);
  await screenshot(page, 'approval-sidebar');

  // Nothing is written before the operator decides.
  expect(await readFile(join(folder, NOTE), 'utf8')).toBe(NOTE_TEXT);

  await sidebar.getByRole('button', { name: `Open the diff of “${SUMMARY}”` }).press('Enter');
  await page.locator('.tab.active', { hasText: `acme.md (proposed by ${RUNBOOK})` }).waitFor();
  await expectRedAndGreen(page);
  await screenshot(page, 'approval-diff');

  await titleAction(page, 'Approve Proposal').click();
  const toast = page.locator('.notifications-toasts', { hasText: `approved “${SUMMARY}”: committed` });
  await toast.waitFor();

  // The diff closed, the proposal left the sidebar and the badge, and the run went on to succeed.
  await page.locator('.tab', { hasText: '(proposed by' }).waitFor({ state: 'detached' });
  await sidebar.locator(`li.run[data-run-id="${runId}"][data-status="succeeded"]`).waitFor();
  await sidebar
    .locator('section.approvals p', { hasText: 'Nothing is waiting for your approval.' })
    .waitFor();
  await activityBadge(page, '1').waitFor({ state: 'detached' });
  await screenshot(page, 'approval-approved');

  expect(await readFile(join(folder, NOTE), 'utf8')).toBe(PROPOSED_TEXT);
  expect(await git(folder, 'rev-parse', 'HEAD~1')).toBe(before);
  const head = await git(folder, 'rev-parse', 'HEAD');
  expect(await toast.textContent()).toContain(`committed ${head.slice(0, 7)}`);
  expect(await git(folder, 'show', '--name-only', '--format=', 'HEAD')).toBe(NOTE);
  expect(trailers(await git(folder, 'log', '-1', '--format=%B'))).toMatchObject({
    'Keel-Run': runId,
    'Keel-Step': 'record',
    'Keel-Runbook': RUNBOOK,
    'Keel-Decision': 'approved',
  });
});

test('edits a proposal in the diff before approving: the edit is applied and remembered', async ({
  server,
  workspace,
  pages,
}) => {
  const folder = await workspace('edit', APPROVALS);
  const page = await pages.open(folder, 'edit');
  const sidebar = await openWorkspace(page);
  const runId = await runUntilProposed(server, page, folder, sidebar);

  await sidebar.getByRole('button', { name: `Edit “${SUMMARY}”` }).press('Enter');
  await page.locator('.tab.active', { hasText: `acme.md (your edit of ${RUNBOOK}'s proposal)` }).waitFor();
  await expectRedAndGreen(page);
  // Editing: Approve and Reject stay in the title; Edit has done its job.
  await titleAction(page, 'Approve Proposal').waitFor();
  expect(await titleAction(page, 'Edit Proposal').count()).toBe(0);

  // The operator adds a line at the end of the proposed note, and approves without saving.
  await diffEditor(page).locator('.editor.modified .view-lines').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('Prefers email over calls.');
  await expect
    .poll(async () => editorText(diffEditor(page).locator('.editor.modified .view-lines')))
    .toContain('Prefers email over calls.');
  await screenshot(page, 'approval-editing');
  await titleAction(page, 'Approve Proposal').click();
  await page.locator('.notifications-toasts', { hasText: `approved “${SUMMARY}” with your edits` }).waitFor();
  await sidebar.locator(`li.run[data-run-id="${runId}"][data-status="succeeded"]`).waitFor();
  await page.locator('.tab', { hasText: 'your edit of' }).waitFor({ state: 'detached' });

  expect(await readFile(join(folder, NOTE), 'utf8')).toBe(`${PROPOSED_TEXT}Prefers email over calls.`);
  expect(trailers(await git(folder, 'log', '-1', '--format=%B'))).toMatchObject({
    'Keel-Run': runId,
    'Keel-Runbook': RUNBOOK,
    'Keel-Decision': 'edited',
  });
  // The operator's correction is remembered where the runbook's next run retrieves it.
  const feedback = await readFile(join(folder, 'memory', 'feedback', `${RUNBOOK}.md`), 'utf8');
  expect(feedback).toContain('Prefers email over calls.');
  // The editable copy is gone with the decision.
  await expect.poll(() => git(folder, 'status', '--porcelain', '--ignored', '.keel/edits')).toBe('');
});

test('rejects a proposal with a reason: the run ends failed, saying why', async ({
  server,
  workspace,
  pages,
}) => {
  const folder = await workspace('reject', APPROVALS);
  const page = await pages.open(folder, 'reject');
  const sidebar = await openWorkspace(page);
  const runId = await runUntilProposed(server, page, folder, sidebar);
  const head = await git(folder, 'rev-parse', 'HEAD');

  // The waiting run's trace says what it waits for, and links to the diff.
  await sidebar.locator(`li.run[data-run-id="${runId}"] button.run-open`).press('Enter');
  await openTraceAsMarkdown(page, runId);
  const trace = page.locator('.editor-group-container.active .monaco-editor .view-lines');
  await expect.poll(() => editorText(trace)).toContain('# Run of account-notes');
  await findInEditor(page, '2. record (propose): waiting for approval');
  await findInEditor(page, `**Waiting for your approval:** ${SUMMARY}`);
  await findInEditor(page, 'Open the proposed change');
  await screenshot(page, 'approval-trace');
  // Found, the cursor sits in the link; Open Link follows it from the keyboard (a Ctrl+click
  // could land on an overlay the workbench shows for a moment: "<html> intercepts pointer events").
  await trace.locator('.detected-link', { hasText: 'Open the proposed change' }).waitFor();
  await runCommand(page, 'Open Link');
  await page.locator('.tab.active', { hasText: `acme.md (proposed by ${RUNBOOK})` }).waitFor();
  await expectRedAndGreen(page);

  // Reject from the sidebar, from the keyboard: a reason is required.
  await sidebar.getByRole('button', { name: `Reject “${SUMMARY}”` }).press('Enter');
  const quickInput = page.locator('.quick-input-widget');
  await quickInput.locator('.quick-input-title', { hasText: `Reject: ${SUMMARY}` }).waitFor();
  await page.keyboard.press('Enter');
  await quickInput
    .locator('.quick-input-message', { hasText: 'Say why, so the agent can act on it.' })
    .waitFor();
  const reason = 'wrong contact: Sam moved to finance, ask Priya';
  await page.keyboard.type(reason);
  await page.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden' });

  const failed = sidebar.locator(`li.run[data-run-id="${runId}"][data-status="failed"]`);
  await failed.waitFor();
  expect(await failed.locator('.run-why').textContent()).toContain(
    `the operator rejected the change: ${reason}`,
  );
  await page.locator('.tab', { hasText: '(proposed by' }).waitFor({ state: 'detached' });
  await sidebar
    .locator('section.approvals p', { hasText: 'Nothing is waiting for your approval.' })
    .waitFor();
  await activityBadge(page, '1').waitFor({ state: 'detached' });
  await screenshot(page, 'approval-rejected');

  // Nothing of the change was written; the one commit since keeps the reason as a lesson.
  expect(await readFile(join(folder, NOTE), 'utf8')).toBe(NOTE_TEXT);
  expect(await git(folder, 'rev-parse', 'HEAD~1')).toBe(head);
  expect(await git(folder, 'show', '--name-only', '--format=', 'HEAD')).toMatch(
    /^memory\/feedback\/[\w-]+\.md$/,
  );
  expect(await git(folder, 'status', '--porcelain', NOTE)).toBe('');
});
