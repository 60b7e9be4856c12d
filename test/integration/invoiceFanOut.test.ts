/**
 * invoice-chaser's fan-out against the real servers (Dovecot and Postfix, the Stripe-compatible
 * test server) and a real daemon process driven by the `keel` CLI: three customers with overdue
 * invoices get one invoice-reminder run each, one after another, each waiting at its own
 * checkpoint. Acme pays while its reminder waits, so only Acme's reminder is held back; Northwind
 * (two invoices, one reminder naming both) and Globex get theirs. The daemon is killed with
 * kill -9 between Northwind's child and Globex's: after the restart each customer still has
 * exactly one child run and one reminder. And a reminder whose invoice is paid while another falls
 * overdue (as many overdue invoices as were shown, but not the same ones) is held back.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { listMessages } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import {
  listRuns,
  REPO_ROOT,
  runKeel,
  startDaemon,
  stopDaemon,
  waitFor,
  type RunningDaemon,
} from '../helpers/processes';
import { makeOverdue, openInvoice, overdueInvoice, stripeClient } from '../helpers/stripeInvoices';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let billing: BillingServer;
let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

beforeAll(async () => {
  [mail, billing] = await Promise.all([
    startMailServers({ users: ['alice', 'bob', 'carol', 'dave', 'erin'] }),
    startBillingServer(),
  ]);
  dirs = await makeTempDirs('keel-fan-out-');
  process.env.KEEL_MAIL_PASSWORD = mail.users.alice!.password;
  process.env.KEEL_STRIPE_KEY = TEST_SECRET_KEY;
  expect((await keel('init', dirs.workspace)).code).toBe(0);
  for (const name of ['invoice-chaser', 'invoice-reminder']) {
    await cp(join(REPO_ROOT, 'runbooks', `${name}.yaml`), join(dirs.workspace, 'runbooks', `${name}.yaml`));
  }
  const customers = mail.users.bob!.address.split('@')[1];
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
memory:
  embeddings: { provider: local }
connectors:
${mailAccount(mail, 'alice', { display: 'Founder' })}${billingAccount(billing)}approvals:
  lists:
    customers: [${customers}]
  actions:
    - action: mail.send
      decide: allow
      when: { subject: { matches: "Payment reminder: *" }, to: { in: customers } }
`,
  );
  const trusted = await keel('trust', '--yes');
  expect(trusted.code, trusted.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await stopDaemon(daemon);
  delete process.env.KEEL_MAIL_PASSWORD;
  delete process.env.KEEL_STRIPE_KEY;
  expect(billing?.invalid ?? []).toEqual([]);
  await Promise.allSettled([mail?.stop(), billing?.stop()]);
  await dirs?.cleanup();
});

function keel(...args: string[]) {
  return runKeel(args, { cwd: dirs?.workspace, runtime: dirs.runtime });
}

const runs = () => listRuns(dirs);

/** A Stripe customer (mailed at `user`'s address) with open invoices overdue by `days` each. */
async function overdueCustomer(user: string, name: string, invoices: [number, number][]) {
  const customer = await stripeClient(billing).customers.create({ email: mail.users[user]!.address, name });
  const ids: string[] = [];
  for (const [amount, days] of invoices) {
    ids.push(await overdueInvoice(billing, customer.id, { amount, description: 'Retainer' }, days));
  }
  return { customer: customer.id, invoices: ids };
}

const number = (invoice: string) => String(billing.invoice(invoice)!.number);

/** The reminder run of this customer waiting at its checkpoint (the only one waiting). */
async function reminderWaits(customer: string, timeoutMs = 60_000): Promise<RunSummary> {
  return waitFor(
    `the reminder of ${customer} at its checkpoint`,
    async () => {
      const waiting = (await runs()).filter(
        (r) => r.runbook === 'invoice-reminder' && r.status === 'waiting_operator',
      );
      expect(waiting.length).toBeLessThanOrEqual(1);
      return waiting.find((r) => r.inputs.customer === customer) ?? null;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${daemon?.output().slice(-4000) ?? ''}`);
  });
}

async function letGo(run: RunSummary): Promise<RunSummary> {
  const continued = await keel('checkpoint', run.id, 'continue', '--json');
  expect(continued.code, continued.stderr).toBe(0);
  return JSON.parse(continued.stdout) as RunSummary;
}

async function subjects(user: string): Promise<string[]> {
  return (await listMessages(mail, user)).map((m) => m.subject);
}

it('reminds each overdue customer once, at its own checkpoint, across a payment and a kill -9', async () => {
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  const acme = await overdueCustomer('bob', 'Acme Logistics', [[400_000, 20]]);
  const northwind = await overdueCustomer('carol', 'Northwind Retail', [
    [250_000, 10],
    [120_000, 3],
  ]);
  const globex = await overdueCustomer('dave', 'Globex', [[90_000, 5]]);

  // The chaser waits for its children, so `keel run` returns only when the last one has ended.
  const chasing = keel('run', 'invoice-chaser', '--json');

  // Acme (the most overdue) first. It pays while its reminder waits: the fresh read holds it back.
  const first = await reminderWaits(acme.customer);
  expect(first.parent?.stepId).toBe('remind');
  billing.markPaid(acme.invoices[0]!);
  const acmeEnd = await letGo(first);
  expect(acmeEnd.status).toBe('succeeded');
  expect(acmeEnd.outputs?.reminder).toBe('skipped');

  // Northwind next: one reminder naming both its invoices, sent once the operator lets it go.
  const second = await reminderWaits(northwind.customer);
  const reads = () =>
    billing.requests.filter(
      (r) => r.method === 'GET' && r.path === '/v1/invoices' && r.params.customer === globex.customer,
    ).length;
  // Globex's child is held at its first read of Stripe, then the daemon is killed with kill -9.
  const globexReads = `GET /v1/invoices?customer=${globex.customer}`;
  billing.holdAll(globexReads);
  const northwindEnd = await letGo(second);
  expect(northwindEnd.status).toBe('succeeded');
  expect(northwindEnd.outputs?.reminder).toBe('succeeded');
  await waitFor("Globex's child to ask Stripe", () => reads() > 0, 60_000);
  daemon.process.kill('SIGKILL');
  await daemon.exited;
  await chasing.catch(() => undefined);
  billing.release(globexReads);
  daemon = await startDaemon(dirs.workspace, dirs.runtime);

  const third = await reminderWaits(globex.customer, 90_000);
  expect((await letGo(third)).outputs?.reminder).toBe('succeeded');
  const chaser = await waitFor(
    'the chaser to finish after the restart',
    async () =>
      (await runs()).find((r) => r.runbook === 'invoice-chaser' && r.status === 'succeeded') ?? null,
    60_000,
  );
  const reminders = chaser.outputs?.reminders as {
    runId: string;
    status: string;
    outputs: { reminder: string };
  }[];
  expect(reminders.map((r) => [r.runId, r.status, r.outputs.reminder])).toEqual([
    [first.id, 'succeeded', 'skipped'],
    [second.id, 'succeeded', 'succeeded'],
    [third.id, 'succeeded', 'succeeded'],
  ]);

  // A replay reads every child's end from the parent's journal: it starts, sends and asks nothing.
  const replayed = await keel('replay', chaser.id);
  expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);
  expect(replayed.stdout).toContain('Identical to the recorded run.');

  // One child per customer, one reminder per customer still owing, each with Stripe's numbers.
  const children = (await runs()).filter((r) => r.runbook === 'invoice-reminder');
  expect(children.map((r) => r.inputs.customer).sort()).toEqual(
    [acme.customer, northwind.customer, globex.customer].sort(),
  );
  expect((await runs()).filter((r) => r.runbook === 'invoice-chaser')).toHaveLength(1);
  expect(await subjects('bob')).toEqual([]);
  expect(await subjects('carol')).toEqual([
    `Payment reminder: invoices ${number(northwind.invoices[0]!)}, ${number(northwind.invoices[1]!)}`,
  ]);
  expect(await subjects('dave')).toEqual([`Payment reminder: invoice ${number(globex.invoices[0]!)}`]);
}, 600_000);

it('holds a reminder back when a shown invoice is paid while another falls overdue', async () => {
  daemon ??= await startDaemon(dirs.workspace, dirs.runtime);
  const initech = await overdueCustomer('erin', 'Initech', [[75_000, 12]]);
  // A second invoice, finalized but not yet due when the reminder is written.
  const later = await openInvoice(billing, initech.customer, { amount: 30_000 });

  const started = await keel('run', 'invoice-reminder', '--input', `customer=${initech.customer}`, '--json');
  expect(started.code, started.stderr).toBe(0);
  const waiting = JSON.parse(started.stdout) as RunSummary;
  expect(waiting.status).toBe('waiting_operator');

  // While the reminder (naming the first invoice only) waits: that one is paid, the other falls due.
  billing.markPaid(initech.invoices[0]!);
  makeOverdue(billing, later, 2);
  const end = await letGo(waiting);
  expect(end.status).toBe('succeeded');
  expect(end.outputs?.reminder).toBe('skipped');
  expect(await subjects('erin')).toEqual([]);
  // The fresh read asked about the invoice shown, by its id.
  expect(
    billing.requests.filter((r) => r.method === 'GET' && r.path === `/v1/invoices/${initech.invoices[0]!}`),
  ).toHaveLength(1);
}, 180_000);
