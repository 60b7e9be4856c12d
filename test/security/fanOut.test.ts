/**
 * invoice-chaser's fan-out against what an outsider controls: the customers' names and the number
 * of overdue invoices at Stripe, and any text that reaches a child's inputs. Twenty-one customers
 * (named with Liquid and JSON, as a customer may name itself) get reminder runs for the twenty most
 * overdue only, each child's input a real customer id, and the chaser says one is left for the next
 * run. The cap that makes it so is forEach's, not the connector's: a runbook that hands off a list
 * of 21 (the invoices) fails naming its step, and no child starts or reads Stripe. And an item
 * whose text holds a template or JSON stays that text in the child's inputs: never rendered again,
 * never more arguments, and refused by the child's Stripe read as not a customer id.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  MAX_FOR_EACH_ITEMS,
  Runbook,
  RunCheckpointRequest,
  RunsListRequest,
  RunStartRequest,
} from '@keel/schemas';
import { overdueInvoicesAction } from '../../daemon/src/connectors/billing/invoices';
import { forEachInput } from '../../daemon/src/conductor/steps/forEach';
import type { StepRuntime } from '../../daemon/src/conductor/steps/stepRuntime';
import { renderText } from '../../daemon/src/conductor/templates';
import { billingAccount, startBillingServer, type BillingServer } from '../helpers/billingServer';
import { makeBillingWorkspace } from '../helpers/billingWorkspace';
import { runReaches, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { overdueInvoice, stripeClient } from '../helpers/stripeInvoices';
import type { TempDirs } from '../helpers/workspace';

let billing: BillingServer;
let dirs: TempDirs;
let running: InProcessDaemon | null = null;

beforeAll(async () => {
  billing = await startBillingServer();
  dirs = await makeBillingWorkspace('keel-fan-out-attack-');
  for (const name of ['invoice-chaser', 'invoice-reminder']) {
    await cp(join(REPO_ROOT, 'runbooks', `${name}.yaml`), join(dirs.workspace, 'runbooks', `${name}.yaml`));
  }
  // A careless copy of the chaser that hands off per invoice, a list the connector does not cap.
  const chaser = await readFile(join(REPO_ROOT, 'runbooks', 'invoice-chaser.yaml'), 'utf8');
  await writeFile(
    join(dirs.workspace, 'runbooks', 'invoice-chaser-wide.yaml'),
    chaser
      .replace('name: invoice-chaser', 'name: invoice-chaser-wide')
      .replace('output.customers }}', 'output.invoices }}'),
  );
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
  await billing?.stop();
  await dirs?.cleanup();
});

/** A customer with one open invoice `days` overdue; its id. */
async function overdueCustomer(name: string, days: number): Promise<string> {
  const customer = await stripeClient(billing).customers.create({ email: 'ap@customer.example', name });
  await overdueInvoice(billing, customer.id, { amount: 1000 }, days);
  return customer.id;
}

/** Twenty-one customers, named as an attacker would, the first the least overdue (10 days). */
const customers: string[] = [];

it('cannot be made to start more than twenty reminder runs: forEach refuses a longer list', async () => {
  for (let i = 0; i <= MAX_FOR_EACH_ITEMS; i++) {
    const name =
      i % 2 === 0
        ? `Acme ${i} {{ steps.overdue.output.invoices }}`
        : `", "customer": "cus_x${i}"}, {"customer": "cus_y${i}`;
    customers.push(await overdueCustomer(name, 10 + i));
  }
  const { client } = running!;
  const { id } = await client.request(RunStartRequest, { runbook: 'invoice-chaser-wide', inputs: {} });
  const failed = await runReaches(client, id, 'failed', 30_000);
  expect(failed.error).toContain(
    `step "remind" would hand off ${MAX_FOR_EACH_ITEMS + 1} items to invoice-reminder (forEach), more than the ${MAX_FOR_EACH_ITEMS} a step may start`,
  );
  const { runs } = await client.request(RunsListRequest, { limit: 1000 });
  expect(runs.map((r) => r.runbook)).toEqual(['invoice-chaser-wide']);
  // No child read Stripe for a customer: the only invoice read was the chaser's list.
  const reads = billing.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/invoices'));
  expect(reads.filter((r) => r.params.customer !== undefined || r.path !== '/v1/invoices')).toEqual([]);
});

it('reminds the twenty most overdue of twenty-one customers and leaves one for the next run', async () => {
  const { client } = running!;
  const { id } = await client.request(RunStartRequest, { runbook: 'invoice-chaser', inputs: {} });
  // The operator stops each reminder at its checkpoint: nothing is ever sent.
  const stopped = new Set<string>();
  const chaser = await waitFor(
    'the chaser to end, each reminder stopped at its checkpoint',
    async () => {
      const { runs } = await client.request(RunsListRequest, { limit: 1000 });
      const waiting = runs.find((r) => r.runbook === 'invoice-reminder' && r.status === 'waiting_operator');
      if (waiting && !stopped.has(waiting.id)) {
        stopped.add(waiting.id);
        await client.request(RunCheckpointRequest, { id: waiting.id, action: 'stop' });
      }
      const run = runs.find((r) => r.id === id)!;
      return ['succeeded', 'failed', 'budget_exceeded', 'cancelled'].includes(run.status) ? run : null;
    },
    100_000,
  );
  expect(chaser.status, chaser.error ?? '').toBe('succeeded');
  expect(chaser.outputs).toMatchObject({ customers: MAX_FOR_EACH_ITEMS, moreCustomers: 1 });
  const { runs } = await client.request(RunsListRequest, { limit: 1000 });
  const children = runs.filter((r) => r.runbook === 'invoice-reminder');
  expect(children).toHaveLength(MAX_FOR_EACH_ITEMS);
  expect(children.every((r) => r.parent?.runId === id && r.status === 'cancelled')).toBe(true);
  // Each child was given a real customer's id, the most overdue twenty; the least overdue waits.
  expect(children.map((r) => r.inputs.customer).sort()).toEqual(customers.slice(1).sort());
  expect(stopped.size).toBe(MAX_FOR_EACH_ITEMS);
  // Had a reminder failed, the escalation would say so and name the customer left for the next run.
  const book = Runbook.parse(
    parseYaml(await readFile(join(REPO_ROOT, 'runbooks', 'invoice-chaser.yaml'), 'utf8')),
  );
  const scope = { steps: { overdue: { output: { moreCustomers: chaser.outputs?.moreCustomers } } } };
  expect(await renderText(book.escalation.message!, { ...scope, error: 'step "remind" failed' })).toBe(
    'A payment reminder could not go out: step "remind" failed (1 more overdue customer(s) are left for the next run.)',
  );
}, 120_000);

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
