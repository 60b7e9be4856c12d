/**
 * http@1's webhook receiver: a delivery is accepted only with a valid HMAC-SHA256 signature, made
 * with the `webhookSecret` credential over `timestamp + "." + body`, in the header
 * `x-keel-signature: t=<unix seconds>,v1=<hex>` (several v1 allowed, for a secret being rotated),
 * and a timestamp inside the window: a captured delivery replayed later is refused even though its
 * signature is valid. A repeated delivery within the window carries the same event id, so it
 * starts nothing twice (runs are unique per trigger and event id). The body must be JSON.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  WebhookRejected,
  type ActionContext,
  type ConnectorEvent,
  type WebhookDelivery,
  type WebhookReceiver,
} from '../sdk';
import { settings } from './config';

export const HTTP_WEBHOOK = 'http.webhook';

export const webhookPayloadSchema = z.object({
  /** The delivery's event id: the body's `id`, else a hash of the signed timestamp and body. */
  id: z.string(),
  /** The body's `type` when it is a string. */
  type: z.string().optional(),
  /** The sender's delivery-id header (`idHeader`), as sent: not signed, never what makes a run unique. */
  deliveryId: z.string().optional(),
  body: z.unknown(),
});

export const webhookEvent: ConnectorEvent<z.infer<typeof webhookPayloadSchema>> = {
  description:
    'A signed delivery to POST /hooks/<connector name>: its id, type and JSON body (untrusted data).',
  payload: webhookPayloadSchema,
};

/** The signature header's value for `body` at `timestamp` (seconds): what a sender computes. */
export function signWebhook(secret: string, timestamp: number, body: Buffer | string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export const httpWebhook: WebhookReceiver = {
  verify(delivery: WebhookDelivery, ctx: Omit<ActionContext, 'idempotencyKey'>) {
    const config = settings(ctx);
    if (!config.webhook) {
      throw new WebhookRejected(404, 'this connector receives no webhooks (no "webhook:" in keel.yaml)');
    }
    const { signatureHeader, idHeader, toleranceSeconds } = config.webhook;
    const header = delivery.headers[signatureHeader.toLowerCase()];
    const parsed = header ? parseSignature(header) : null;
    if (!parsed) throw new WebhookRejected(401, `missing or unreadable ${signatureHeader} header`);
    const secret = ctx.credential('webhookSecret');
    const expected = createHmac('sha256', secret)
      .update(`${parsed.timestamp}.`)
      .update(delivery.body)
      .digest();
    const matches = parsed.signatures.some(
      (hex) => hex.length === expected.length * 2 && timingSafeEqual(Buffer.from(hex, 'hex'), expected),
    );
    if (!matches) throw new WebhookRejected(401, 'the signature does not match');
    const age = Math.abs(delivery.receivedAt / 1000 - parsed.timestamp);
    if (age > toleranceSeconds) {
      throw new WebhookRejected(
        409,
        `the delivery was signed ${Math.round(age)} s from now, outside the ${toleranceSeconds} s window: refused as a replay`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(delivery.body.toString('utf8'));
    } catch {
      throw new WebhookRejected(400, 'the body is not JSON');
    }
    const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    // The id that makes a delivery one run comes only from what the signature covers: the body's
    // `id`, else the signed timestamp and body. A delivery-id header is not signed: a copy of a
    // signed delivery sent again with a new header would otherwise start another run.
    const id =
      (typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : null) ??
      createHash('sha256').update(`${parsed.timestamp}.`).update(delivery.body).digest('hex').slice(0, 32);
    if (id.length > 200) throw new WebhookRejected(400, 'the event id is longer than 200 characters');
    const type = typeof record.type === 'string' ? { type: record.type } : {};
    const sent = delivery.headers[idHeader.toLowerCase()];
    const deliveryId = sent !== undefined && sent.length <= 200 ? { deliveryId: sent } : {};
    return { events: [{ name: HTTP_WEBHOOK, id, payload: { id, ...type, ...deliveryId, body } }] };
  },
};

function parseSignature(header: string): { timestamp: number; signatures: string[] } | null {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && value && /^[0-9a-f]+$/i.test(value)) signatures.push(value.toLowerCase());
  }
  return timestamp !== null && signatures.length > 0 ? { timestamp, signatures } : null;
}
