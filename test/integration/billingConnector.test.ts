/**
 * billing@1 against a Stripe-compatible server on loopback (stripe-stateful-mock behind the
 * layer of test/helpers/billingServer.ts): customers found, listed and created once per key;
 * a draft invoice with its lines, finalized, sent, listed as overdue once past due, and deleted
 * as the undo of a draft; a refund once per key; a write cut off before its answer is found
 * again by `find`; the probe; and every request Keel sent fits the SDK's request shapes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingConnector } from '../../daemon/src/connectors/billing';
import {
  createCustomerAction,
  findCustomersAction,
  getCustomerAction,
  listCustomersAction,
} from '../../daemon/src/connectors/billing/customers';
import {
  createInvoiceAction,
  deleteDraftInvoiceAction,
  finalizeInvoiceAction,
  overdueInvoicesAction,
  sendInvoiceAction,
} from '../../daemon/src/connectors/billing/invoices';
import { keelKey } from '../../daemon/src/connectors/billing/model';
import { refundAction } from '../../daemon/src/connectors/billing/refunds';
import { OutcomeUnknownError, type ActionContext } from '../../daemon/src/connectors/sdk';
import { startBillingServer, TEST_SECRET_KEY, type BillingServer } from '../helpers/billingServer';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let stripe: BillingServer;
let dirs: TempDirs;

beforeAll(async () => {
  [stripe, dirs] = await Promise.all([startBillingServer(), makeTempDirs('keel-billing-')]);
});
afterAll(async () => {
  expect(stripe.invalid).toEqual([]);
  // Only the probe given a wrong key on purpose went without the test key.
  expect(stripe.requests.filter((request) => !request.authorized).map((request) => request.path)).toEqual([
    '/v1/balance',
  ]);
  await stripe?.stop();
  await dirs?.cleanup();
});

function context(
  key: string,
  extra: Record<string, unknown> = {},
  secretKey = TEST_SECRET_KEY,
): ActionContext {
  return {
    workspace: dirs.workspace,
    idempotencyKey: key,
    credential: (name) => {
      if (name !== 'secretKey') throw new Error(`no credential ${name}`);
      return secretKey;
    },
    config: { apiBase: stripe.url, currency: 'eur', ...extra },
    signal: new AbortController().signal,
  };
}

const unique = (name: string) => `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

async function newCustomer(email = `${unique('c')}@example.org`) {
  return createCustomerAction.perform(
    createCustomerAction.input.parse({ email, name: 'Dana Client' }),
    context(unique('run/customer')),
  );
}

it('registers its actions, events and webhook under billing@1', () => {
  expect(billingConnector.id).toBe('billing@1');
  expect(billingConnector.actions.refund!.risk).toBe('irreversible');
  expect(billingConnector.actions.createInvoice!.risk).toBe('internal');
  expect(billingConnector.actions.createInvoice!.undo?.action).toBe('deleteDraftInvoice');
  expect(billingConnector.actions.sendInvoice!.risk).toBe('external');
  expect(Object.keys(billingConnector.events)).toEqual([
    'invoice.paid',
    'invoice.payment_failed',
    'invoice.overdue',
    'charge.dispute.created',
  ]);
  expect(billingConnector.webhook).toBeDefined();
});

describe('customers', () => {
  it('creates one customer per key, with the Stripe idempotency key and metadata keel_key', async () => {
    const email = `${unique('dana')}@example.org`;
    const key = unique('run-a/step-1');
    const input = createCustomerAction.input.parse({ email, name: 'Dana' });
    const first = await createCustomerAction.perform(input, context(key));
    const again = await createCustomerAction.perform(input, context(key));
    expect(again.id).toBe(first.id);
    const found = await findCustomersAction.perform({ email }, context('read'));
    expect(found.customers.map((customer) => customer.id)).toEqual([first.id]);
    const sent = stripe.requests.filter(
      (r) => r.method === 'POST' && r.path === '/v1/customers' && r.params.email === email,
    );
    expect(sent.map((r) => r.idempotencyKey)).toEqual([keelKey(key), keelKey(key)]);
    expect(sent[0]!.params.metadata).toEqual({ keel_key: keelKey(key) });
    expect(await createCustomerAction.find!(input, context(key))).toMatchObject({
      id: first.id,
      resumed: true,
    });
    expect(await createCustomerAction.find!(input, context('another-key'))).toBeNull();
  });

  it('lists customers page by page', async () => {
    await newCustomer();
    await newCustomer();
    const first = await listCustomersAction.perform(
      listCustomersAction.input.parse({ limit: 1 }),
      context('read'),
    );
    expect(first.customers).toHaveLength(1);
    const next = await listCustomersAction.perform(
      listCustomersAction.input.parse({ limit: 1, after: first.customers[0]!.id }),
      context('read'),
    );
    expect(next.customers[0]!.id).not.toBe(first.customers[0]!.id);
  });

  it('reads one customer by id, and takes only a cus_ id', async () => {
    // What a reminder needs of one customer, however old: Stripe lists customers newest first, so
    // a list of the newest hundred missed the older ones.
    const customer = await newCustomer();
    const read = await getCustomerAction.perform({ id: customer.id }, context('read'));
    expect(read).toEqual({
      id: customer.id,
      email: customer.email,
      name: customer.name,
      created: customer.created,
    });
    expect(getCustomerAction.input.safeParse({ id: 'in_123' }).success).toBe(false);
    expect(getCustomerAction.input.safeParse({ id: 'cus_1/../x' }).success).toBe(false);
  });
});

describe('invoices', () => {
  it('drafts an invoice with its lines once per key, finalizes, sends, and lists it once overdue', async () => {
    const customer = await newCustomer();
    const key = unique('run-b/step-2');
    const input = createInvoiceAction.input.parse({
      customer: customer.id,
      lines: [
        { description: 'Design work, March', amount: 120_000 },
        { description: 'Hosting', amount: 4_500 },
      ],
    });
    const draft = await createInvoiceAction.perform(input, context(key));
    expect(draft).toMatchObject({ status: 'draft', currency: 'eur', total: 124_500, resumed: false });
    expect(draft.lines.map((line) => line.amount)).toEqual([120_000, 4_500]);
    const again = await createInvoiceAction.perform(input, context(key));
    expect(again).toMatchObject({ id: draft.id, total: 124_500, resumed: true });
    expect(stripe.invoice(draft.id)?.collection_method).toBe('send_invoice');

    const open = await finalizeInvoiceAction.perform({ invoice: draft.id }, context(unique('fin')));
    expect(open.status).toBe('open');
    expect(open.dueDate).not.toBeNull();
    expect(await finalizeInvoiceAction.find!({ invoice: draft.id }, context('x'))).toMatchObject({
      status: 'open',
    });
    const sent = await sendInvoiceAction.perform({ invoice: draft.id }, context(unique('send')));
    expect(stripe.invoice(draft.id)?.sent_count).toBe(1);
    expect(sent.number).toBe(open.number);

    const none = await overdueInvoicesAction.perform(
      overdueInvoicesAction.input.parse({ customer: customer.id }),
      context('read'),
    );
    expect(none.invoices).toEqual([]);
    stripe.setDueDate(draft.id, Math.floor(Date.now() / 1000) - 3 * 86_400 - 60);
    const overdue = await overdueInvoicesAction.perform(
      overdueInvoicesAction.input.parse({ customer: customer.id }),
      context('read'),
    );
    expect(overdue.invoices).toMatchObject([{ id: draft.id, daysOverdue: 3, amountDue: 124_500 }]);
  });

  it('undoes a draft by deleting it; a finalized invoice is refused, not deleted', async () => {
    const customer = await newCustomer();
    const input = createInvoiceAction.input.parse({
      customer: customer.id,
      lines: [{ description: 'x', amount: 100 }],
    });
    const draft = await createInvoiceAction.perform(input, context(unique('draft')));
    const undo = createInvoiceAction.undo!;
    const undoInput = deleteDraftInvoiceAction.input.parse(undo.input(input, draft));
    expect(await deleteDraftInvoiceAction.perform(undoInput, context(unique('undo')))).toEqual({
      invoice: draft.id,
      deleted: true,
    });
    expect(stripe.invoice(draft.id)).toBeUndefined();
    expect(await deleteDraftInvoiceAction.find!(undoInput, context('x'))).toEqual({
      invoice: draft.id,
      deleted: true,
    });

    const other = await createInvoiceAction.perform(input, context(unique('draft')));
    await finalizeInvoiceAction.perform({ invoice: other.id }, context(unique('fin')));
    await expect(
      deleteDraftInvoiceAction.perform({ invoice: other.id }, context(unique('undo'))),
    ).rejects.toThrow(/is open; only drafts can be deleted/);
  });

  it('a draft cut off after its first line resumes with only the missing lines', async () => {
    const customer = await newCustomer();
    const key = unique('run-c/step-1');
    const input = createInvoiceAction.input.parse({
      customer: customer.id,
      lines: [
        { description: 'one', amount: 1_000 },
        { description: 'two', amount: 2_000 },
      ],
    });
    stripe.cutNext('POST /v1/invoiceitems', 2);
    await expect(createInvoiceAction.perform(input, context(key))).rejects.toBeInstanceOf(
      OutcomeUnknownError,
    );
    expect(await createInvoiceAction.find!(input, context(key))).toBeNull(); // one line of two
    const done = await createInvoiceAction.perform(input, context(key));
    expect(done).toMatchObject({ resumed: true, total: 3_000 });
    expect(done.lines).toHaveLength(2);
    expect(await createInvoiceAction.find!(input, context(key))).toMatchObject({
      id: done.id,
      resumed: true,
    });
  });
});

describe('overdue invoices', () => {
  /** An open invoice of this customer, `days` overdue (or due in the future for a negative number). */
  async function openInvoice(customer: string, days: number) {
    const draft = await createInvoiceAction.perform(
      createInvoiceAction.input.parse({ customer, lines: [{ description: 'Retainer', amount: 10_000 }] }),
      context(unique('draft')),
    );
    await finalizeInvoiceAction.perform({ invoice: draft.id }, context(unique('fin')));
    stripe.setDueDate(draft.id, Math.floor(Date.now() / 1000) - days * 86_400 - 60);
    return draft.id;
  }
  const read = (input: Record<string, unknown>) =>
    overdueInvoicesAction.perform(overdueInvoicesAction.input.parse(input), context('read'));

  it('re-checks only the invoices named: one paid drops out, one newly overdue is not added', async () => {
    const customer = (await newCustomer()).id;
    const [paid, open] = [await openInvoice(customer, 9), await openInvoice(customer, 4)];
    const shown = await read({ customer });
    expect(shown.invoiceIds).toEqual([paid, open]);

    stripe.markPaid(paid);
    const later = await openInvoice(customer, 1);
    const recheck = await read({ customer, only: shown.invoiceIds });
    expect(recheck.invoiceIds).toEqual([open]);
    // Without `only` the customer still has two overdue invoices: a count cannot tell them apart.
    expect((await read({ customer })).invoiceIds).toEqual([open, later]);
    // Another customer's invoice is not this customer's, and a repeated id counts once.
    const other = await openInvoice((await newCustomer()).id, 2);
    expect((await read({ customer, only: [open, open, other] })).invoiceIds).toEqual([open]);
  });

  it('names invoices strictly, and at most 50 of them', () => {
    const parse = (only: unknown) => overdueInvoicesAction.input.safeParse({ only }).success;
    expect(parse(['in_1AbC', 'in_2XyZ'])).toBe(true);
    for (const bad of [[], ['cus_1AbC'], ['in_1,in_2'], ['in_../../v1/customers'], 'in_1AbC']) {
      expect(parse(bad)).toBe(false);
    }
    expect(parse(Array.from({ length: 51 }, (_, i) => `in_${i}`))).toBe(false);
  });

  it('gives the most overdue customers first, at most maxCustomers, and counts the rest', async () => {
    const [late, later, latest] = [
      (await newCustomer()).id,
      (await newCustomer()).id,
      (await newCustomer()).id,
    ];
    await openInvoice(late, 300);
    await openInvoice(latest, 500);
    await openInvoice(later, 400);
    await openInvoice(later, 2);
    const all = await read({ limit: 200 });
    expect(all.moreCustomers).toBe(0);
    const first = await read({ limit: 200, maxCustomers: 2 });
    expect(first.customers).toEqual([
      { customer: latest, invoices: 1, daysOverdue: 500 },
      { customer: later, invoices: 2, daysOverdue: 400 },
    ]);
    expect(first.moreCustomers).toBe(all.customers.length - 2);
    // The customers count every overdue invoice, even those past `limit`.
    const one = await read({ limit: 1, maxCustomers: 20 });
    expect(one.invoices).toHaveLength(1);
    expect(one.customers.map((c) => c.customer)).toEqual(all.customers.map((c) => c.customer));
    expect(overdueInvoicesAction.input.safeParse({ maxCustomers: 21 }).success).toBe(false);
  });
});

describe('refunds', () => {
  it('refunds once per key; a refund whose answer was lost is found by its key', async () => {
    const charge = await stripe.charge(5_000, 'eur');
    const key = unique('run-d/step-3');
    const input = refundAction.input.parse({ charge, amount: 1_500, reason: 'requested_by_customer' });
    const refund = await refundAction.perform(input, context(key));
    expect(refund).toMatchObject({ amount: 1_500, charge, resumed: false });
    const again = await refundAction.perform(input, context(key));
    expect(again.id).toBe(refund.id);

    // The SDK sends a request whose connection closed once more, with the same key: one refund.
    const retriedKey = unique('run-f/step-3');
    stripe.cutNext('POST /v1/refunds');
    const retried = await refundAction.perform(input, context(retriedKey));
    const sent = stripe.requests.filter((r) => r.idempotencyKey === keelKey(retriedKey));
    expect(sent).toHaveLength(2);
    expect(await refundAction.find!(input, context(retriedKey))).toMatchObject({ id: retried.id });

    const lostKey = unique('run-e/step-3');
    stripe.cutNext('POST /v1/refunds', 2);
    await expect(refundAction.perform(input, context(lostKey))).rejects.toBeInstanceOf(OutcomeUnknownError);
    const found = await refundAction.find!(input, context(lostKey));
    expect(found).toMatchObject({ amount: 1_500, charge, resumed: true });
    expect(found!.id).not.toBe(refund.id);
    expect(await refundAction.find!(input, context(unique('never')))).toBeNull();
  });

  it('refuses an input naming both or neither of charge and paymentIntent', () => {
    expect(refundAction.input.safeParse({ amount: 10 }).success).toBe(false);
    expect(refundAction.input.safeParse({ charge: 'ch_1', paymentIntent: 'pi_1' }).success).toBe(false);
  });
});

describe('probe and settings', () => {
  it('reports the account, or a refused key without the key', async () => {
    const ok = await billingConnector.probe(context('probe'));
    expect(ok).toMatchObject({ ok: true });
    expect(ok.detail).toMatch(/test mode/);
    const wrongKey = 'sk_live_wrong0123456789';
    const refused = await billingConnector.probe(context('probe', {}, wrongKey));
    expect(refused.ok).toBe(false);
    expect(refused.detail).toMatch(/refused the secret key/);
    expect(refused.detail).not.toContain(wrongKey);
  });

  it('will not send the key in clear text off loopback, and names misspelt settings', async () => {
    await expect(
      findCustomersAction.perform(
        { email: 'a@example.org' },
        context('x', { apiBase: 'http://stripe.example.org' }),
      ),
    ).rejects.toThrow(/will not send the secret key in clear text/);
    await expect(
      findCustomersAction.perform({ email: 'a@example.org' }, context('x', { apibase: 'x' })),
    ).rejects.toThrow(/settings in keel.yaml are invalid at \(top\)|apibase/);
  });
});
