/**
 * billing@1's webhook receiver, fed deliveries signed by the Stripe SDK's own test signer
 * (`generateTestHeaderString`) as Stripe signs them: a valid `invoice.paid` becomes one event
 * keyed by Stripe's event id with its payload; a wrong signature, a delivery older than the
 * tolerance window (by the listener's receive time), a body altered after signing and a missing
 * header are refused with the HTTP status to answer; event types billing@1 does not declare are
 * acknowledged with no events.
 */
import { expect, it } from 'vitest';
import { billingConnector } from '../../daemon/src/connectors/billing';
import { WebhookRejected, type WebhookDelivery } from '../../daemon/src/connectors/sdk';
import { Stripe } from '../helpers/stripeSdk';

const SECRET = 'whsec_keel_test_0123456789abcdef';
const webhook = billingConnector.webhook!;
const ctx = {
  workspace: '/nonexistent',
  credential: (name: string) => {
    if (name !== 'webhookSecret') throw new Error(`no credential ${name}`);
    return SECRET;
  },
  config: {},
  signal: new AbortController().signal,
};

function invoiceEvent(type = 'invoice.paid', id = 'evt_1Keel') {
  return JSON.stringify({
    id,
    object: 'event',
    type,
    livemode: false,
    created: 1_900_000_000,
    data: {
      object: {
        id: 'in_1Keel',
        object: 'invoice',
        customer: 'cus_1Keel',
        customer_email: 'dana@example.org',
        customer_name: 'Dana',
        number: 'KEEL-0001',
        status: 'paid',
        currency: 'eur',
        amount_due: 124_500,
        amount_paid: 124_500,
        amount_remaining: 0,
        due_date: 1_900_000_000,
        hosted_invoice_url: 'https://invoice.stripe.com/i/x',
      },
    },
  });
}

function delivery(
  body: string,
  options: { secret?: string; signedAt?: number; receivedAt?: number } = {},
): WebhookDelivery {
  const signedAt = options.signedAt ?? Math.floor(Date.now() / 1000);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? SECRET,
    timestamp: signedAt,
  });
  return {
    body: Buffer.from(body),
    headers: { 'stripe-signature': header, 'content-type': 'application/json' },
    receivedAt: options.receivedAt ?? Date.now(),
  };
}

function rejection(run: () => unknown): WebhookRejected {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookRejected) return error;
    throw error;
  }
  throw new Error('the delivery was accepted');
}

it('a signed invoice.paid becomes one event keyed by the Stripe event id', () => {
  expect(webhook.verify(delivery(invoiceEvent()), ctx)).toEqual({
    events: [
      {
        name: 'invoice.paid',
        id: 'evt_1Keel',
        payload: {
          stripeEventId: 'evt_1Keel',
          invoice: 'in_1Keel',
          customer: 'cus_1Keel',
          customerEmail: 'dana@example.org',
          customerName: 'Dana',
          number: 'KEEL-0001',
          status: 'paid',
          currency: 'eur',
          amountDue: 124_500,
          amountPaid: 124_500,
          amountRemaining: 0,
          dueDate: new Date(1_900_000_000_000).toISOString(),
          hostedInvoiceUrl: 'https://invoice.stripe.com/i/x',
          livemode: false,
        },
      },
    ],
  });
  const failed = webhook.verify(delivery(invoiceEvent('invoice.payment_failed', 'evt_2')), ctx);
  expect(failed.events.map((event) => [event.name, event.id])).toEqual([['invoice.payment_failed', 'evt_2']]);
  expect(billingConnector.events['invoice.paid']!.payload.safeParse(failed.events[0]!.payload).success).toBe(
    true,
  );
});

it('a signature made with another secret is refused with 401', () => {
  const refused = rejection(() =>
    webhook.verify(delivery(invoiceEvent(), { secret: 'whsec_attacker' }), ctx),
  );
  expect(refused.status).toBe(401);
  expect(refused.message).toMatch(/signature does not match the webhookSecret/);
  expect(refused.message).not.toContain(SECRET);
});

it('a delivery signed longer ago than the window, by the time it was received, is refused', () => {
  const now = Math.floor(Date.now() / 1000);
  const old = rejection(() => webhook.verify(delivery(invoiceEvent(), { signedAt: now - 301 }), ctx));
  expect([old.status, old.message]).toEqual([
    401,
    expect.stringMatching(/more than 300 s before it arrived/),
  ]);
  // Judged by receivedAt, not by when verify runs: a delivery queued a while is still accepted.
  const queued = delivery(invoiceEvent(), { signedAt: now - 600, receivedAt: (now - 590) * 1000 });
  expect(webhook.verify(queued, ctx).events).toHaveLength(1);
});

it('a body altered after signing is refused, and so is a delivery without a signature', () => {
  const signed = delivery(invoiceEvent());
  const altered = { ...signed, body: Buffer.from(signed.body.toString().replace('124500', '1')) };
  expect(rejection(() => webhook.verify(altered, ctx)).status).toBe(401);
  const unsigned = { ...signed, headers: { 'content-type': 'application/json' } };
  expect(rejection(() => webhook.verify(unsigned, ctx)).status).toBe(400);
});

it('a signed event of a type billing@1 does not declare is acknowledged without events', () => {
  expect(webhook.verify(delivery(invoiceEvent('customer.created', 'evt_3')), ctx)).toEqual({ events: [] });
});

it('a signed body that is not an event is refused with 400', () => {
  expect(rejection(() => webhook.verify(delivery('not json'), ctx)).status).toBe(400);
});
