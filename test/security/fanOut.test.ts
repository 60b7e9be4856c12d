/**
 * invoice-chaser's fan-out against what an outsider controls: the customers' names and the number
 * of overdue invoices at Stripe, and any text that reaches a child's inputs. Twenty-one customers
 * (named with Liquid and JSON, as a customer may name itself) cannot make a run start more than
 * twenty reminder runs: the step fails naming itself, and no child starts or reads Stripe. And an
 * item whose text holds a template or JSON stays that text in the child's inputs: never rendered
 * again, never more arguments, and refused by the child's Stripe read as not a customer id.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_FOR_EACH_ITEMS, Runbook, RunsListRequest, RunStartRequest } from '@keel/schemas';
import { overdueInvoicesAction } from '../../daemon/src/connectors/billing/invoices';
import { forEachInput } from '../../daemon/src/conductor/steps/forEach';
import type { StepRuntime } from '../../daemon/src/conductor/steps/stepRuntime';
import { initWorkspace } from '../../daemon/src/workspace/init';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { runReaches, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { REPO_ROOT } from '../helpers/processes';
import { Stripe } from '../helpers/stripeSdk';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let billing: BillingServer;
let dirs: TempDirs;
let running: InProcessDaemon | null = null;

beforeAll(async () => {
  billing = await startBillingServer();
  dirs = await makeTempDirs('keel-fan-out-attack-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_STRIPE_KEY = TEST_SECRET_KEY;
  await initWorkspace(dirs.workspace);
  for (const name of ['invoice-chaser', 'invoice-reminder']) {
    await cp(join(REPO_ROOT, 'runbooks', `${name}.yaml`), join(dirs.workspace, 'runbooks', `${name}.yaml`));
  }
  // The mail account is never reached: no reminder run may start.
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  mail:
    use: email@1
    imap: { host: mail.invalid }
    smtp: { host: mail.invalid }
    user: founder@fjord-ops.example
    from: Founder <founder@fjord-ops.example>
    credentials: { password: { env: KEEL_NO_MAIL_PASSWORD } }
${billingAccount(billing)}`,
  );
  running = await startTrustedDaemon(dirs.workspace);
}, 120_000);

afterAll(async () => {
  await running?.daemon.stop('test');
  delete process.env.KEEL_STRIPE_KEY;
  await billing?.stop();
  await dirs?.cleanup();
});

function stripe(): Stripe {
  const url = new URL(billing.url);
  return new Stripe(TEST_SECRET_KEY, { host: url.hostname, port: Number(url.port), protocol: 'http' });
}

/** A customer with one open invoice ten days overdue. */
async function overdueCustomer(name: string): Promise<void> {
  const client = stripe();
  const customer = await client.customers.create({ email: 'ap@customer.example', name });
  const invoice = await client.invoices.create({
    customer: customer.id,
    collection_method: 'send_invoice',
    days_until_due: 30,
    currency: 'eur',
  });
  await client.invoiceItems.create({
    customer: customer.id,
    invoice: invoice.id,
    amount: 1000,
    currency: 'eur',
  });
  await client.invoices.finalizeInvoice(invoice.id);
  billing.setDueDate(invoice.id, Math.floor(Date.now() / 1000) - 10 * 86_400);
}

it('cannot be made to start more than twenty reminder runs, whatever the customers are called', async () => {
  for (let i = 0; i <= MAX_FOR_EACH_ITEMS; i++) {
    await overdueCustomer(
      i % 2 === 0
        ? `Acme ${i} {{ steps.overdue.output.invoices }}`
        : `", "customer": "cus_x${i}"}, {"customer": "cus_y${i}`,
    );
  }
  const { client } = running!;
  const { id } = await client.request(RunStartRequest, { runbook: 'invoice-chaser', inputs: {} });
  const failed = await runReaches(client, id, 'failed', 30_000);
  expect(failed.error).toContain(
    `step "remind" would hand off ${MAX_FOR_EACH_ITEMS + 1} items to invoice-reminder (forEach), more than the ${MAX_FOR_EACH_ITEMS} a step may start`,
  );
  const { runs } = await client.request(RunsListRequest, { limit: 1000 });
  expect(runs.map((r) => r.runbook)).toEqual(['invoice-chaser']);
  // No child read Stripe for a customer: the only invoice read was the chaser's list.
  const reads = billing.requests.filter((r) => r.method === 'GET' && r.path === '/v1/invoices');
  expect(reads.filter((r) => r.params.customer !== undefined)).toEqual([]);
});

it("keeps an item's text as data in the child's inputs, and the child's Stripe read refuses it", async () => {
  const chaser = Runbook.parse(
    parseYaml(await readFile(join(REPO_ROOT, 'runbooks', 'invoice-chaser.yaml'), 'utf8')),
  );
  const remind = chaser.steps.find((s) => s.id === 'remind') as Extract<
    Runbook['steps'][number],
    { type: 'runbook' }
  >;
  const hostile = [
    '{{ steps.overdue.output.invoices }}',
    'cus_A", "limit": 200, "customer": "cus_B',
    '{% for i in (1..30) %}cus_{{ i }} {% endfor %}',
  ];
  const scope = {
    steps: {
      overdue: { output: { customers: hostile.map((customer) => ({ customer })), invoices: ['secret'] } },
    },
  };
  const input = await forEachInput(remind, { scope } as unknown as StepRuntime);
  // One child per item, no more, each given the item's text exactly as it was.
  expect(input.forEach).toEqual(hostile.map((customer) => ({ inputs: { customer } })));
  for (const customer of hostile) {
    expect(overdueInvoicesAction.input.safeParse({ customer }).success).toBe(false);
  }
});
