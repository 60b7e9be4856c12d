/**
 * billing@1 in runs of a real daemon against the Stripe-compatible test server: a runbook drafts
 * an invoice (allowed by a keel.yaml rule) and refunds a charge. The refund is irreversible and
 * no rule names it, so it waits for the operator; the proposal shows the refund as
 * YAML marked IRREVERSIBLE, nothing is refunded while it waits, and once approved exactly one
 * refund is made with an idempotency key from the run and step. Cancelling a run deletes the
 * draft its createInvoice made (the undo is deleteDraftInvoice).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalsListRequest,
  RunCancelRequest,
  RunGetRequest,
  RunStartRequest,
} from '@keel/schemas';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { makeBillingWorkspace } from '../helpers/billingWorkspace';
import { runReaches, startTrustedDaemon, type InProcessDaemon } from '../helpers/inProcessDaemon';
import { waitFor } from '../helpers/processes';
import type { TempDirs } from '../helpers/workspace';

let stripe: BillingServer;
let dirs: TempDirs;
let running: InProcessDaemon | null = null;

beforeAll(async () => {
  stripe = await startBillingServer();
});
afterAll(async () => {
  expect(stripe.invalid).toEqual([]);
  await stripe?.stop();
});
beforeEach(async () => {
  dirs = await makeBillingWorkspace('keel-billing-runs-');
});
afterEach(async () => {
  await running?.daemon.stop('test');
  running = null;
  await dirs.cleanup();
});

async function customerId(): Promise<string> {
  const answer = await fetch(`${stripe.url}/v1/customers`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_SECRET_KEY}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'email=dana%40example.org&name=Dana',
  });
  return ((await answer.json()) as { id: string }).id;
}

async function setUp(runbook: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${billingAccount(stripe, { name: 'bill' })}approvals:
  actions:
    - { action: bill.createInvoice, decide: allow }
    - { action: bill.deleteDraftInvoice, decide: allow }
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'bill.yaml'), runbook);
  running = await startTrustedDaemon(dirs.workspace);
}

it('a refund waits for the operator, then is made once', async () => {
  const charge = await stripe.charge(9_900, 'eur');
  const customer = await customerId();
  await setUp(`apiVersion: keel/v1
name: bill
role: Bookkeeper
description: Drafts a credit note invoice and refunds the charge.
steps:
  - id: draft
    type: connector
    use: bill
    action: createInvoice
    with: { customer: ${customer}, lines: [{ description: "Refund note", amount: 2500 }] }
  - id: refund
    type: connector
    use: bill
    action: refund
    with: { charge: ${charge}, amount: 2500, reason: requested_by_customer }
`);
  const { client } = running!;
  const { id } = await client.request(RunStartRequest, { runbook: 'bill', inputs: {} });
  const proposal = await waitFor(
    'the refund proposal',
    async () => (await client.request(ApprovalsListRequest, { status: ['pending'] })).approvals[0] ?? null,
    30_000,
  );
  expect(proposal.action).toMatchObject({
    connector: 'bill',
    use: 'billing@1',
    action: 'refund',
    risk: 'irreversible',
  });
  expect(proposal.action?.review.text).toContain('IRREVERSIBLE');
  expect(proposal.action?.review.text).toContain(`charge: ${charge}`);
  const refundsSent = () => stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
  expect(refundsSent()).toEqual([]);
  // The draft before it was allowed by the rule and is made.
  expect(stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices')).toHaveLength(1);

  await client.request(ApprovalApproveRequest, { id: proposal.id });
  await runReaches(client, id, 'succeeded', 30_000);
  const trace = await client.request(RunGetRequest, { id });
  expect(trace.steps.find((step) => step.id === 'refund')?.output).toMatchObject({
    amount: 2_500,
    charge,
    resumed: false,
  });
  expect(refundsSent()).toHaveLength(1);
  expect(refundsSent()[0]!.idempotencyKey).toMatch(/^keel-[0-9a-f]{32}$/);
}, 90_000);

it('a cancelled run deletes the draft its createInvoice made', async () => {
  const customer = await customerId();
  await setUp(`apiVersion: keel/v1
name: bill
role: Bookkeeper
description: Drafts an invoice, then waits.
steps:
  - id: draft
    type: connector
    use: bill
    action: createInvoice
    with: { customer: ${customer}, lines: [{ description: "Work", amount: 50000 }] }
  - id: wait
    type: checkpoint
    message: "Send it?"
`);
  const { client } = running!;
  const { id } = await client.request(RunStartRequest, { runbook: 'bill', inputs: {} });
  await runReaches(client, id, 'waiting_operator', 30_000);
  const draft = (await client.request(RunGetRequest, { id })).steps[0]?.output as { id: string };
  expect(stripe.invoice(draft.id)?.status).toBe('draft');
  await client.request(RunCancelRequest, { id });
  await runReaches(client, id, 'cancelled', 30_000);
  const trace = await client.request(RunGetRequest, { id });
  expect(trace.compensation?.map((line) => [line.stepId, line.action, line.undo, line.outcome])).toEqual([
    ['draft', 'createInvoice', 'deleteDraftInvoice', 'undone'],
  ]);
  expect(stripe.invoice(draft.id)).toBeUndefined();
}, 90_000);
