/**
 * A week of a one-person company, played against the real servers: Dovecot and Postfix (mail),
 * Radicale (calendar), the Stripe-compatible test server (billing), the local model server, and
 * a real daemon process driven by the `keel` CLI as the operator would. A meeting coming up gets
 * a brief; an invoice paid while its reminder waits for the operator gets no reminder, but a
 * thank-you and a payment line in Acme's note; another overdue invoice is chased with the daemon killed with
 * `kill -9` after the operator let the reminder go and before it was sent; a customer's mail is
 * answered in its thread; a run that made a draft invoice is stopped and the draft is deleted.
 * Every mail, event and invoice action is counted where it happened: once.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { calendarAccount, startCalendarServer, type CalendarServer } from '../helpers/calendarServer';
import { listMessages } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { ModelServer, pricedModels, type ScriptedReply } from '../helpers/modelServer';
import {
  listRuns,
  REPO_ROOT,
  runKeel,
  startDaemon,
  stopDaemon,
  waitFor,
  type RunningDaemon,
} from '../helpers/processes';
import { overdueInvoice, stripeClient } from '../helpers/stripeInvoices';
import { freePort, invoicePaidEvent, postStripeHook } from '../helpers/webhooks';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const WEBHOOK_SECRET = 'whsec_keel_week_0123456789abcdef';
const WEEK_RUNBOOKS = [
  'meeting-prep',
  'invoice-chaser',
  'invoice-reminder',
  'payment-received',
  'inbox-triage',
];

let mail: MailServers;
let caldav: CalendarServer;
let billing: BillingServer;
let model: ModelServer;
let dirs: TempDirs;
let daemon: RunningDaemon | null = null;
let hooksPort: number;

/** The model, answering each runbook's step by who asks (its system message). */
function answer(system: string): ScriptedReply {
  const json = (value: unknown): ScriptedReply => ({ content: JSON.stringify(value) });
  if (system.includes('prepare a busy founder')) {
    return json({
      customer: 'Acme Logistics',
      know: ['Six-month retainer since November, 4,000 EUR a month.', 'Dana decides; Piet uses it daily.'],
      promises: ['The empty-kilometre baseline by Friday.'],
      ask: 'Which depot goes first?',
    });
  }
  if (system.includes("keep a one-person consultancy's books")) {
    return json({
      to: mail.users.bob!.address,
      text: 'Hi Dana,\n\nThank you for paying so promptly.\n\nBest regards',
      customer: 'Acme Logistics',
      noteLine: 'Invoice paid in full.',
      known: true,
    });
  }
  if (system.includes("sort a small consultancy's inbox")) {
    return json({ kind: 'customer-question', customer: 'Northwind Retail', urgent: false });
  }
  if (system.includes("founder's assistant")) {
    return json({ text: 'Hi Sam,\n\nYes, Thursday works.\n\nBest regards' });
  }
  throw new Error(`the week has no answer for a step whose system message is: ${system}`);
}

beforeAll(async () => {
  [mail, caldav, billing, model] = await Promise.all([
    startMailServers({ users: ['alice', 'bob', 'carol'] }),
    startCalendarServer(),
    startBillingServer(),
    ModelServer.start({ model: 'gpt-4o-mini-2024-07-18' }),
  ]);
  model.respondWith((request) => {
    const messages = (request.body as { messages: { role: string; content: string | null }[] }).messages;
    const system = messages.find((m) => m.role === 'system')?.content ?? '';
    return answer(system);
  });
  dirs = await makeTempDirs('keel-week-');
  process.env.KEEL_MAIL_PASSWORD = mail.users.alice!.password;
  process.env.KEEL_CALENDAR_PASSWORD = caldav.users.alice!.password;
  process.env.KEEL_STRIPE_KEY = TEST_SECRET_KEY;
  process.env.KEEL_STRIPE_WEBHOOK = WEBHOOK_SECRET;
  hooksPort = await freePort();
  expect((await keel('init', dirs.workspace)).code).toBe(0);
  await companyWorkspace();
  const trusted = await keel('trust', '--yes');
  expect(trusted.code, trusted.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await stopDaemon(daemon);
  for (const name of [
    'KEEL_MAIL_PASSWORD',
    'KEEL_CALENDAR_PASSWORD',
    'KEEL_STRIPE_KEY',
    'KEEL_STRIPE_WEBHOOK',
  ])
    delete process.env[name];
  await Promise.allSettled([mail?.stop(), caldav?.stop(), billing?.stop(), model?.close()]);
  await dirs?.cleanup();
});

function keel(...args: string[]) {
  return runKeel(args, { cwd: dirs?.workspace, runtime: dirs.runtime });
}

/** The company: two customer notes, a call note, the week's runbooks, and keel.yaml. */
async function companyWorkspace(): Promise<void> {
  const ws = dirs.workspace;
  for (const name of WEEK_RUNBOOKS) {
    await cp(join(REPO_ROOT, 'runbooks', `${name}.yaml`), join(ws, 'runbooks', `${name}.yaml`));
  }
  // Not an example: a runbook that makes a draft invoice and waits, to be stopped.
  await writeFile(
    join(ws, 'runbooks', 'draft-invoice.yaml'),
    `apiVersion: keel/v1
name: draft-invoice
role: Bookkeeper
description: Drafts an invoice and waits for the operator before finalizing it.
inputs:
  customer: { type: string }
steps:
  - id: draft
    type: connector
    use: billing
    action: createInvoice
    with: { customer: "{{ inputs.customer }}", lines: [{ description: Workshop, amount: 90000 }] }
  - id: look
    type: checkpoint
    message: Finalize this draft?
`,
  );
  await mkdir(join(ws, 'memory', 'customers'), { recursive: true });
  await mkdir(join(ws, 'memory', 'calls'), { recursive: true });
  await writeFile(
    join(ws, 'memory', 'customers', 'acme-logistics.md'),
    `---\ntype: customer\ndate: 2026-11-18\n---\n\n# Acme Logistics\n\nDana Whitfield (${mail.users.bob!.address}) decides. Retainer of 4,000 EUR a month.\n`,
  );
  await writeFile(
    join(ws, 'memory', 'calls', '2026-11-30-acme.md'),
    `---\ntype: call\ncustomer: Acme Logistics\ndate: 2026-11-30\n---\n\n# Call with Dana\n\n- We promised the empty-kilometre baseline by Friday.\n`,
  );
  const customers = mail.users.bob!.address.split('@')[1];
  await writeFile(
    join(ws, 'keel.yaml'),
    `version: 1
memory:
  embeddings: { provider: local }
${pricedModels(model, { strong: true })}webhooks: { port: ${hooksPort} }
connectors:
${mailAccount(mail, 'alice', { display: 'Founder', extra: ['pollSeconds: 1'] })}${calendarAccount(caldav, 'alice', { extra: ['pollSeconds: 1', 'notifyMinutesBefore: 60'] })}${billingAccount(billing)}approvals:
  lists:
    customers: [${customers}]
  actions:
    - action: mail.send
      decide: allow
      when: { subject: { matches: "Payment reminder: *" }, to: { in: customers } }
    - { action: billing.createInvoice, decide: allow }
    - { action: billing.deleteDraftInvoice, decide: allow }
`,
  );
}

const runs = () => listRuns(dirs);

async function runReaches(runbook: string, statuses: string[], timeoutMs = 60_000): Promise<RunSummary> {
  return waitFor(
    `a ${runbook} run ${statuses.join(' or ')}`,
    async () => (await runs()).find((r) => r.runbook === runbook && statuses.includes(r.status)) ?? null,
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${daemon?.output().slice(-4000) ?? ''}`);
  });
}

/** invoice-chaser's reminder run for this Stripe customer, waiting at its checkpoint. */
async function reminderWaits(customer: string): Promise<RunSummary> {
  return waitFor(
    `the reminder of ${customer} at its checkpoint`,
    async () =>
      (await runs()).find(
        (r) =>
          r.runbook === 'invoice-reminder' &&
          r.status === 'waiting_operator' &&
          r.inputs.customer === customer,
      ) ?? null,
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${daemon?.output().slice(-4000) ?? ''}`);
  });
}

async function approve(proposal: string | null | undefined): Promise<void> {
  const approved = await keel('approve', String(proposal));
  expect(approved.code, approved.stdout + approved.stderr).toBe(0);
}

async function subjects(user: string): Promise<string[]> {
  return (await listMessages(mail, user)).map((m) => m.subject).sort();
}

async function drafts(customer: string): Promise<string[]> {
  const listed = await stripeClient(billing).invoices.list({ customer, status: 'draft' });
  return listed.data.map((invoice) => invoice.id);
}

/** A Stripe customer with one open invoice that is `days` overdue. */
async function overdueRetainer(user: string, name: string, amount: number, days: number): Promise<string> {
  const customer = await stripeClient(billing).customers.create({ email: mail.users[user]!.address, name });
  return overdueInvoice(billing, customer.id, { amount, description: 'Retainer' }, days);
}

/** Stripe's `invoice.paid` for this invoice of Acme's, mailed at `user`'s address. */
function invoicePaid(invoice: string, user: string): string {
  const paid = billing.invoice(invoice)!;
  return invoicePaidEvent({
    event: `evt_paid_${invoice}`,
    invoice,
    customer: String(paid.customer),
    email: mail.users[user]!.address,
    name: 'Acme Logistics',
    number: String(paid.number),
    amount: 400_000,
  });
}

it('plays a week: every mail, event and invoice action once, across kill -9, and the undo on cancel', async () => {
  daemon = await startDaemon(dirs.workspace, dirs.runtime);

  // Monday: a meeting with Acme in 30 minutes; calendar.upcoming starts meeting-prep.
  const start = new Date(Date.now() + 30 * 60_000);
  start.setUTCSeconds(0, 0);
  await caldav.put(
    'alice',
    'acme-weekly',
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//test//EN',
      'BEGIN:VEVENT',
      'UID:acme-weekly',
      'DTSTAMP:20260101T000000Z',
      `DTSTART:${start.toISOString().replace(/[-:]/g, '').replace('.000', '')}`,
      'DURATION:PT30M',
      'SUMMARY:Acme weekly',
      `ATTENDEE;CN=Dana:mailto:${mail.users.bob!.address}`,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n'),
  );
  const prep = await runReaches('meeting-prep', ['waiting_approval', 'succeeded']);
  if (prep.status === 'waiting_approval') await approve(prep.waitingFor);
  await runReaches('meeting-prep', ['succeeded']);
  const briefs = (await readdir(join(dirs.workspace, 'memory', 'working'))).filter((n) =>
    n.startsWith('brief-'),
  );
  expect(briefs).toEqual([`brief-${prep.id}.md`]);
  const brief = await readFile(join(dirs.workspace, 'memory', 'working', briefs[0]!), 'utf8');
  expect(brief).toContain('Which depot goes first?');

  // Tuesday: two invoices overdue. The chaser hands each customer to invoice-reminder, Acme's (the
  // older) first; `keel run` returns once both reminders have ended, so it is not waited for here.
  const acme = await overdueRetainer('bob', 'Acme Logistics', 400_000, 20);
  const northwind = await overdueRetainer('carol', 'Northwind Retail', 250_000, 5);
  const chasing = keel('run', 'invoice-chaser', '--json');
  const first = await reminderWaits(String(billing.invoice(acme)!.customer));

  // Acme pays while its reminder waits: Stripe marks it paid and says so by webhook.
  billing.markPaid(acme);
  const body = invoicePaid(acme, 'bob');
  const delivered = await postStripeHook(hooksPort, body, WEBHOOK_SECRET);
  expect(delivered.status, delivered.body).toBe(200);
  // A retried delivery starts nothing more.
  await postStripeHook(hooksPort, body, WEBHOOK_SECRET);

  // The operator lets the reminder go: Stripe, asked again, says it is paid; nothing is sent.
  const continued = await keel('checkpoint', first.id, 'continue', '--json');
  expect(continued.code, continued.stderr).toBe(0);
  const skipped = JSON.parse(continued.stdout) as RunSummary;
  expect(skipped.status).toBe('succeeded');
  expect(skipped.outputs?.reminder).toBe('skipped');

  // payment-received: the payment line proposed for Acme's note, then a thank-you waiting for
  // approval; both approved.
  const thanksNote = await runReaches('payment-received', ['waiting_approval']);
  await approve(thanksNote.waitingFor);
  const thanks: RunSummary = await waitFor(
    'the thank-you to wait for approval',
    async () => {
      const run = (await runs()).find((r) => r.id === thanksNote.id);
      return run?.status === 'waiting_approval' && run.waitingFor !== thanksNote.waitingFor ? run : null;
    },
    60_000,
  );
  await approve(thanks.waitingFor);
  await runReaches('payment-received', ['succeeded']);

  // Wednesday: Northwind's reminder, the chaser's second child, waits. The operator continues; the
  // daemon is killed with kill -9 while the child asks Stripe again (after the approval, before the send).
  const second = await reminderWaits(String(billing.invoice(northwind)!.customer));
  // The fresh read asks Stripe for each invoice the reminder names, by its id.
  const recheck = `GET /v1/invoices/${northwind}`;
  const rechecks = () => billing.requests.filter((r) => `${r.method} ${r.path}` === recheck).length;
  const before = rechecks();
  billing.holdAll(recheck);
  const answering = keel('checkpoint', second.id, 'continue');
  await waitFor('the fresh read after the approval', () => rechecks() > before, 60_000);
  daemon.process.kill('SIGKILL');
  await daemon.exited;
  await Promise.all([answering, chasing]);
  billing.release(recheck);
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  await waitFor(
    'the reminder and its chaser to finish after the restart',
    async () => {
      const all = await runs();
      const done = (id?: string) => all.some((r) => r.id === id && r.status === 'succeeded');
      return done(second.id) && done(second.parent?.runId);
    },
    90_000,
  );

  // Thursday: Sam (carol) writes; inbox-triage drafts the answer in the thread; approved.
  await mail.deliver({
    from: mail.users.carol!.address,
    to: [mail.users.alice!.address],
    raw: `From: Sam <${mail.users.carol!.address}>\nTo: ${mail.users.alice!.address}\nSubject: Workshop\nMessage-ID: <workshop-1@keel.test>\n\nCan we meet Thursday?\n`,
  });
  const triage = await runReaches('inbox-triage', ['waiting_approval'], 90_000);
  await approve(triage.waitingFor);
  await runReaches('inbox-triage', ['succeeded']);

  // Friday: a draft invoice the operator stops at its checkpoint: the draft is deleted (the undo).
  const customer = String(billing.invoice(northwind)!.customer);
  const posted = () =>
    billing.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices').length;
  const postedBefore = posted();
  const drafting = JSON.parse(
    (await keel('run', 'draft-invoice', '--input', `customer=${customer}`, '--json')).stdout,
  ) as RunSummary;
  expect(drafting.status).toBe('waiting_operator');
  expect(await drafts(customer)).toHaveLength(1);
  const stopped = await keel('checkpoint', drafting.id, 'stop', '--json');
  expect((JSON.parse(stopped.stdout) as RunSummary).status, stopped.stderr).toBe('cancelled');
  await waitFor('the draft to be deleted', async () => (await drafts(customer)).length === 0, 30_000);
  expect(posted() - postedBefore).toBe(1);
  expect(billing.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);

  // Every action, counted where it happened.
  expect(await subjects('bob')).toEqual(['Thank you for your payment']);
  expect(await subjects('carol')).toEqual([
    'Payment reminder: invoice ' + String(billing.invoice(northwind)!.number),
    'Re: Workshop',
  ]);
  // Acme's note got the payment under a Payments section of its own, and kept its frontmatter.
  const acmeNote = await readFile(join(dirs.workspace, 'memory', 'customers', 'acme-logistics.md'), 'utf8');
  expect(acmeNote).toMatch(/^---\ntype: customer\ndate: 2026-11-18\n---\n/);
  expect(acmeNote.endsWith('a month.\n\n## Payments\n\n- Invoice paid in full.\n')).toBe(true);
  expect((await caldav.events('alice')).length).toBe(1);
  // One run per event: the meeting, the Stripe event (delivered twice), the mail.
  const started = await runs();
  for (const runbook of ['meeting-prep', 'payment-received', 'inbox-triage']) {
    expect(
      started.filter((r) => r.runbook === runbook),
      runbook,
    ).toHaveLength(1);
  }
  // One chaser run, one reminder run per customer.
  expect(started.filter((r) => r.runbook === 'invoice-chaser')).toHaveLength(1);
  expect(started.filter((r) => r.runbook === 'invoice-reminder')).toHaveLength(2);
}, 600_000);
