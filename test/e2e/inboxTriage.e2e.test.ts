/**
 * Answering a customer's mail, end to end: Dana's mail arrives in Dovecot over Postfix's SMTP, its
 * email.received trigger starts inbox-triage (its model a scripted endpoint on loopback), which
 * drafts the reply; the email waits in the Keel sidebar, the operator opens it with the keyboard,
 * adds a sentence in the editor, saves, and approves it from the approval inbox; the edited reply lands in Dana's real mailbox
 * once, in her thread, from the workspace's account, with one copy in its Sent folder.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Frame, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { ApprovalGetRequest, RunGetRequest, RunsListRequest } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import { parseMessage, type ReceivedMessage } from '../../daemon/src/connectors/email/message';
import { imapSession, listMessages, waitForMessage } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { ModelServer, type ReceivedRequest, type ScriptedReply } from '../helpers/modelServer';
import { REPO_ROOT, type CodeServer } from './harness/codeServer';
import { test as e2e } from './harness/fixture';
import { findFrame, openKeelSidebar, screenshot, waitForIndexedNotes } from './harness/workbench';
import { git, type WorkspaceBuilder } from './harness/workspace';

/** The file's mail and model servers (set by its `mail` fixture, before code-server starts) and code-server. */
let mail: MailServers;
let models: ModelServer;
let server: CodeServer;

const RUNBOOK = 'inbox-triage';
/** Maya runs the company and its mail account; Dana is the customer who writes in. */
const OPERATOR = 'maya';
const CUSTOMER = 'dana';
const SUBJECT = 'Kickoff workshop';
const QUESTION = `Hi Maya,

Can we hold the kickoff workshop on Thursday instead? Piet would like to join.

Dana
`;
const DRAFT = `Hi Dana,

Thursday works for us: 10:00 at your office, as planned. Piet is very welcome.

Best,
Maya
`;
const ADDED = 'Please bring the three dispatch spreadsheets.';
/** The body the operator approves: ADDED typed at the end of the draft's middle paragraph. */
const EDITED = DRAFT.replace('Piet is very welcome.', `Piet is very welcome. ${ADDED}`);
const CUSTOMER_NOTE = `---
type: customer
---
# Acme Logistics

Logistics firm in Rotterdam. Main contact: Dana Whitfield, operations.
The kickoff workshop is at their office, 10:00.
`;

const test = e2e
  .extend('mail', { scope: 'file' }, async ({}, { onCleanup }) => {
    const [servers, modelServer] = await Promise.all([
      startMailServers({ users: [OPERATOR, CUSTOMER] }),
      ModelServer.start({ model: 'test-model' }),
    ]);
    modelServer.respondWith(answerAsTheModel);
    [mail, models] = [servers, modelServer];
    onCleanup(async () => {
      await modelServer.close();
      await servers.stop();
    });
    return servers;
  })
  // The account's password reaches the daemon the way an operator's does: an environment variable
  // keel.yaml names, never a workspace file.
  .override('serverOptions', ({ mail }) => ({ env: { KEEL_MAIL_PASSWORD: mail.users[OPERATOR]!.password } }));

/** The model's side of the runbook: it sorts the mail as a customer's question, then drafts DRAFT. */
function answerAsTheModel(request: ReceivedRequest): ScriptedReply {
  const step = (request.body as { response_format?: { json_schema?: { name?: string } } }).response_format
    ?.json_schema?.name;
  if (step === 'classify') {
    return {
      content: JSON.stringify({ kind: 'customer-question', customer: 'Acme Logistics', urgent: false }),
    };
  }
  if (step === 'draft') return { content: JSON.stringify({ text: DRAFT }) };
  throw new Error(`inbox-triage asked the model for an unexpected step "${String(step)}"`);
}

/** keel.yaml: the scripted model for both tiers, and Maya's account on the test servers as `mail`. */
function keelYaml(): string {
  return `version: 1
models:
  endpoint: { baseUrl: ${models.baseUrl} }
  tiers:
    fast: { model: test-model, inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }
    strong: { model: test-model, inputUsdPerMTok: 2.5, outputUsdPerMTok: 10 }
connectors:
${mailAccount(mail, OPERATOR, { display: 'Maya', extra: ['pollSeconds: 1'] })}`;
}

/** Maya's company in git: keel.yaml, the customer's note and the example inbox-triage runbook. */
async function triageWorkspace(workspace: WorkspaceBuilder, name: string): Promise<string> {
  return workspace(name, {
    from: 'init',
    files: {
      'keel.yaml': keelYaml(),
      'memory/customers/acme-logistics.md': CUSTOMER_NOTE,
      [`runbooks/${RUNBOOK}.yaml`]: await readFile(join(REPO_ROOT, 'runbooks', `${RUNBOOK}.yaml`), 'utf8'),
    },
    commit: { message: 'Acme' },
  });
}

/** Dana writes to Maya: a real SMTP delivery through Postfix into Maya's INBOX in Dovecot. */
async function customerWrites(): Promise<string> {
  const messageId = `<kickoff-${Date.now()}@${mail.users[CUSTOMER]!.address.split('@')[1]}>`;
  const raw = [
    `From: Dana Whitfield <${mail.users[CUSTOMER]!.address}>`,
    `To: Maya <${mail.users[OPERATOR]!.address}>`,
    `Subject: ${SUBJECT}`,
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    '',
    QUESTION,
  ].join('\n');
  await mail.deliver({ from: mail.users[CUSTOMER]!.address, to: [mail.users[OPERATOR]!.address], raw });
  await waitForMessage(mail, OPERATOR, messageId);
  return messageId;
}

/**
 * The message as `email.received` hands it to a triggered run: read back from Maya's INBOX over
 * IMAP and parsed by the connector's own `parseMessage`.
 */
async function receivedMessage(messageId: string): Promise<ReceivedMessage> {
  const stored = await waitForMessage(mail, OPERATOR, messageId);
  return parseMessage(await sourceOf(OPERATOR, stored.uid, 'INBOX'), true);
}

/**
 * The run `email.received` started for the message: inbox-triage's event trigger, with the
 * mail's headers and its body (fenced as untrusted data) as inputs. Nobody starts it by hand.
 */
async function triggeredRunFor(folder: string, message: ReceivedMessage): Promise<string> {
  for (;;) {
    const { runs } = await askDaemon(folder, (client) => client.request(RunsListRequest, { limit: 20 }));
    const run = runs.find((r) => r.runbook === RUNBOOK);
    if (run) {
      const { run: detail } = await askDaemon(folder, (client) =>
        client.request(RunGetRequest, { id: run.id }),
      );
      expect(detail.inputs).toMatchObject({ from: message.from, subject: message.subject });
      expect(String(detail.inputs.messageId)).toBe(message.messageId);
      return run.id;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Resolves once the mail account was polled for the first time: its cursor is kept. Mail that is
 * already there when the trigger is first armed is not news; what arrives after it is.
 */
async function pollerArmed(folder: string): Promise<void> {
  const cursors = join(folder, '.keel', 'event-cursors.json');
  await expect
    .poll(() => readFile(cursors, 'utf8').catch(() => ''), { timeout: 60_000, interval: 250 })
    .toContain('mail');
}

/** Asks the workspace's daemon, as the CLI would. */
async function askDaemon<T>(
  folder: string,
  ask: (client: Awaited<ReturnType<typeof attachToDaemon>>) => Promise<T>,
) {
  process.env.KEEL_RUNTIME_DIR = server.runtimeDir;
  const client = await attachToDaemon(folder);
  try {
    return await ask(client);
  } finally {
    await client.close();
  }
}

async function sourceOf(user: string, uid: number, folder: string): Promise<Buffer> {
  const imap = await imapSession(mail, user);
  try {
    const lock = await imap.getMailboxLock(folder);
    try {
      const message = await imap.fetchOne(String(uid), { source: true }, { uid: true });
      if (!message || !message.source) throw new Error(`no message ${uid} in ${user}'s ${folder}`);
      return message.source;
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

/** The messages of a user's folder that are replies to `subject`. */
async function replies(user: string, folder: string) {
  return (await listMessages(mail, user, folder)).filter((m) => m.subject === `Re: ${SUBJECT}`);
}

/** Lets a late second copy arrive: a message sent after the reply reached Dana through the same queue. */
async function flushQueue(): Promise<void> {
  const subject = `sentinel ${Math.random()}`;
  await mail.deliver({
    from: 'postmaster@example.org',
    to: [mail.users[CUSTOMER]!.address],
    raw: `Subject: ${subject}\n\n.\n`,
  });
  await waitForMessage(mail, CUSTOMER, subject);
}

/** The lines an editor shows (Monaco draws spaces as no-break spaces). */
async function editorText(lines: Locator): Promise<string> {
  return ((await lines.textContent()) ?? '').replace(/\u00a0/g, ' ');
}

/** Waits in the opened workspace for its daemon, and opens the sidebar with nothing waiting. */
async function openWorkspace(page: Page): Promise<Frame> {
  // The customer's note and the runbook are indexed: the daemon is up and serving.
  await waitForIndexedNotes(page, 2);
  const sidebar = await openKeelSidebar(page);
  await sidebar
    .locator('section.approvals p', { hasText: 'Nothing is waiting for your approval.' })
    .waitFor();
  return sidebar;
}

test("answers a customer's mail: the drafted reply is edited in the editor, approved, and lands once in her thread", async ({
  server: started,
  workspace,
  pages,
}) => {
  server = started;
  const folder = await triageWorkspace(workspace, 'inbox-triage');
  const p = await pages.open(folder, 'inbox-triage');
  const sidebar = await openWorkspace(p);
  await pollerArmed(folder);
  const original = await receivedMessage(await customerWrites());
  expect(original).toMatchObject({
    from: `Dana Whitfield <${mail.users[CUSTOMER]!.address}>`,
    subject: SUBJECT,
  });

  const runId = await triggeredRunFor(folder, original);
  await sidebar.locator(`li.run[data-run-id="${runId}"][data-status="waiting_approval"]`).waitFor();
  const summary = `mail.send: Email to ${original.from}: Re: ${SUBJECT}`;
  const approval = sidebar.locator('li.approval', { hasText: summary });
  await approval.waitFor();
  expect(await approval.locator('.approval-action').textContent()).toMatch(/^mail\.send \(external\): /);
  const proposalId = await approval.getAttribute('data-proposal-id');
  await screenshot(p, 'inbox-triage-proposal');
  // The mail went to the model as data, inside the prompt's <mail> element.
  const classify = models.requests[0]?.body as { messages: { role: string; content: string }[] };
  const prompt = classify.messages.find((m) => m.role === 'user')?.content ?? '';
  expect(prompt).toMatch(/<mail from=[^>]*>[^]*Piet would like to join\.[^]*<\/mail>/);
  // Nothing is sent while it waits.
  expect(await replies(CUSTOMER, 'INBOX')).toEqual([]);

  // Open, from the keyboard: the email shows as a document, headers then the drafted body.
  await sidebar.getByRole('button', { name: `Open “${summary}”` }).press('Enter');
  await p.locator('.tab.active', { hasText: 'mail.send.txt' }).waitFor();
  // Beside it, read-only: why it waits and the run's inputs (Dana's mail); the email keeps the focus.
  const context = p.locator('.editor-group-container', {
    has: p.locator('.tab.active', { hasText: 'context.md' }),
  });
  await expect
    .poll(() => editorText(context.locator('.monaco-editor .view-lines')))
    .toContain('Waits for your decision: risk external');
  expect(await editorText(context.locator('.monaco-editor .view-lines'))).toContain(`> ${original.from}`);
  const lines = p.locator('.editor-group-container.active .monaco-editor .view-lines');
  await expect.poll(() => editorText(lines)).toContain('Thursday works for us');
  const shown = await editorText(lines);
  for (const header of [
    `To: ${original.from}`,
    `Subject: Re: ${SUBJECT}`,
    `In-Reply-To: ${original.messageId}`,
  ]) {
    expect(shown).toContain(header);
  }
  await screenshot(p, 'inbox-triage-email');

  // The operator adds a sentence to the body's middle paragraph (found with Ctrl+F) and saves.
  await lines.click();
  await p.keyboard.press('Control+F');
  const find = p.locator('.editor-group-container.active .find-widget.visible textarea[aria-label="Find"]');
  await find.waitFor();
  await find.fill('Piet is very welcome.');
  await p.keyboard.press('Enter');
  await p.keyboard.press('Escape');
  await find.waitFor({ state: 'hidden' });
  await p.keyboard.press('End');
  await p.keyboard.type(` ${ADDED}`);
  await p.keyboard.press('Control+S');
  await p.locator('.tab.active:not(.dirty)', { hasText: 'mail.send.txt' }).waitFor();
  await expect.poll(() => editorText(lines)).toContain(ADDED);
  // Back to the start of the line, so the screenshot shows the whole email.
  await p.keyboard.press('Home');
  await screenshot(p, 'inbox-triage-edited');

  // Approve from the approval inbox, from the keyboard: it shows the email as the agent proposed
  // it and the rule that made it wait; approving sends the operator's edited copy.
  await sidebar.getByRole('button', { name: /^Open the approval inbox/ }).press('Enter');
  const inbox = await findFrame(p, '#inbox h1:has-text("1 waiting for you")');
  const row = inbox.locator('li.inbox-row[aria-selected="true"]');
  expect(await row.locator('.row-summary').textContent()).toBe(summary);
  expect(await row.getAttribute('data-risk')).toBe('external action');
  const details = inbox.locator('.inbox-details');
  expect(await details.locator('pre.review').textContent()).toContain('Thursday works for us');
  expect(await details.textContent()).toContain('risk external');
  await screenshot(p, 'inbox-triage-inbox');
  await row.focus();
  await p.keyboard.press('a');
  await p.locator('.notifications-toasts', { hasText: `approved “${summary}” with your edits` }).waitFor();
  await sidebar.locator(`li.run[data-run-id="${runId}"][data-status="succeeded"]`).waitFor();
  await p.locator('.tab', { hasText: 'mail.send.txt' }).waitFor({ state: 'detached' });
  await screenshot(p, 'inbox-triage-sent');

  await expectSentOnce(folder, runId, proposalId!, original);
}, 240_000);

/** Dana has the edited reply once, in her thread, from Maya's account; Sent has one copy. */
async function expectSentOnce(
  folder: string,
  runId: string,
  proposalId: string,
  original: ReceivedMessage,
): Promise<void> {
  const trace = await askDaemon(folder, (client) => client.request(RunGetRequest, { id: runId }));
  expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
  const sent = trace.steps.find((step) => step.id === 'reply')?.output as {
    messageId: string;
    sentUid: number;
  };
  const arrived = await waitForMessage(mail, CUSTOMER, sent.messageId);
  const reply = await simpleParser(await sourceOf(CUSTOMER, arrived.uid, 'INBOX'));
  expect(reply.text?.trim()).toBe(EDITED.trim());
  expect(reply.inReplyTo).toBe(original.messageId);
  expect(reply.from?.value.map((a) => a.address)).toEqual([mail.users[OPERATOR]!.address]);
  expect(reply.subject).toBe(`Re: ${SUBJECT}`);

  const sentCopies = (await listMessages(mail, OPERATOR, 'Sent')).filter(
    (m) => m.messageId === sent.messageId,
  );
  expect(sentCopies.map((m) => m.uid)).toEqual([sent.sentUid]);

  // The decision is recorded as the operator's edit, and the edit is remembered as feedback.
  const { proposal } = await askDaemon(folder, (client) =>
    client.request(ApprovalGetRequest, { id: proposalId }),
  );
  expect(proposal.decision?.kind).toBe('edited');
  const feedback = await readFile(join(folder, 'memory', 'feedback', `${RUNBOOK}.md`), 'utf8');
  expect(feedback).toContain(
    `+Thursday works for us: 10:00 at your office, as planned. Piet is very welcome. ${ADDED}`,
  );
  // ...and committed with the decision's trailers, as a file edit's feedback is.
  const commit = await git(folder, 'log', '-1', '--format=%B', '--', `memory/feedback/${RUNBOOK}.md`);
  expect(commit).toContain(`Keel-Run: ${runId}`);
  expect(commit).toContain('Keel-Decision: edited');

  // A little later, and after a later message went through the same queue: still exactly one.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await flushQueue();
  expect((await replies(CUSTOMER, 'INBOX')).map((m) => m.messageId)).toEqual([sent.messageId]);
  expect((await replies(OPERATOR, 'Sent')).map((m) => m.messageId)).toEqual([sent.messageId]);
}
