/**
 * billing@1's inbound events: Stripe's webhook deliveries, checked with the SDK's own signature
 * check (`Stripe-Signature`, HMAC over the raw body with the `webhookSecret` credential, within
 * a five-minute window of when the listener received it) before anything in them is read. The
 * events a solo operator chasing invoices acts on become Keel events, keyed by Stripe's event
 * id (Stripe delivers an event again until it is acknowledged; the host runs once per id).
 * Everything in a payload (names, emails, descriptions) is untrusted data.
 */
import type Stripe from 'stripe';
import { connectorLibraries } from '../connectorLibraries';
import { WebhookRejected, type WebhookReceiver } from '../sdk';
import { DISPUTE_CREATED, billingEvents, disputePayloadSchema, invoicePayloadSchema } from './events';

/** Seconds a signed delivery stays acceptable: Stripe's own default, against replays of old deliveries. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const iso = (seconds: unknown): string | null =>
  typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : null;
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const idOf = (value: unknown): string | null =>
  typeof value === 'string' ? value : text((value as { id?: unknown } | null)?.id);
const int = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) ? value : 0);

function payloadOf(event: Stripe.Event): unknown {
  const object = event.data.object as unknown as Record<string, unknown>;
  if (event.type === DISPUTE_CREATED) {
    return disputePayloadSchema.parse({
      stripeEventId: event.id,
      dispute: text(object.id) ?? '',
      charge: idOf(object.charge),
      amount: int(object.amount),
      currency: text(object.currency) ?? '',
      reason: text(object.reason),
      status: text(object.status),
      livemode: event.livemode,
    });
  }
  return invoicePayloadSchema.parse({
    stripeEventId: event.id,
    invoice: text(object.id) ?? '',
    customer: idOf(object.customer),
    customerEmail: text(object.customer_email),
    customerName: text(object.customer_name),
    number: text(object.number),
    status: text(object.status),
    currency: text(object.currency) ?? '',
    amountDue: int(object.amount_due),
    amountPaid: int(object.amount_paid),
    amountRemaining: int(object.amount_remaining),
    dueDate: iso(object.due_date),
    hostedInvoiceUrl: text(object.hosted_invoice_url),
    livemode: event.livemode,
  });
}

export const billingWebhook: WebhookReceiver = {
  verify(delivery, ctx) {
    const signature = delivery.headers['stripe-signature'];
    if (!signature) {
      throw new WebhookRejected(
        400,
        'The delivery has no Stripe-Signature header: it did not come from Stripe.',
      );
    }
    const secret = ctx.credential('webhookSecret');
    const { errors, webhooks } = connectorLibraries().Stripe();
    let event: Stripe.Event;
    try {
      event = webhooks.constructEvent(
        delivery.body,
        signature,
        secret,
        WEBHOOK_TOLERANCE_SECONDS,
        undefined,
        delivery.receivedAt,
      );
    } catch (error) {
      if (error instanceof errors.StripeSignatureVerificationError) {
        const old = /timestamp outside the tolerance zone/i.test(error.message);
        throw new WebhookRejected(
          401,
          old
            ? `The Stripe delivery is signed more than ${WEBHOOK_TOLERANCE_SECONDS} s before it arrived (a replay?): refused.`
            : "The Stripe delivery's signature does not match the webhookSecret credential: refused (check the secret of this endpoint at Stripe).",
        );
      }
      throw new WebhookRejected(400, 'The Stripe delivery is not a readable event (invalid JSON).');
    }
    if (!Object.hasOwn(billingEvents, event.type)) return { events: [] };
    try {
      return { events: [{ name: event.type, id: event.id, payload: payloadOf(event) }] };
    } catch {
      throw new WebhookRejected(
        400,
        `The Stripe ${event.type} event ${event.id} does not have the expected shape.`,
      );
    }
  },
};
