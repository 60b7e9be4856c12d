/** Signed deliveries to a daemon's webhook listener over real HTTP (Keel's signature or Stripe's), and a free loopback port. */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { signWebhook } from '../../daemon/src/connectors/http/webhook';
import { Stripe } from './stripeSdk';

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** POSTs `body` to `/hooks/<name>`, signed with `secret` at `timestamp` (seconds) unless `signature` is given. */
export function postHook(
  port: number,
  name: string,
  body: string,
  options: { secret?: string; timestamp?: number; signature?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    options.signature ?? (options.secret ? signWebhook(options.secret, timestamp, body) : undefined);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/hooks/${name}`,
        headers: {
          'content-type': 'application/json',
          ...(signature ? { 'x-keel-signature': signature } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What Stripe's `invoice.paid` event says about the invoice paid. */
export interface PaidInvoice {
  /** The event's id (Stripe retries deliver the same id). */
  event: string;
  invoice: string;
  customer: string;
  email: string;
  name: string;
  number: string;
  /** Minor units (cents) in EUR, paid in full. */
  amount: number;
}

/** Stripe's `invoice.paid` event body, as Stripe posts it to a webhook endpoint. */
export function invoicePaidEvent(paid: PaidInvoice): string {
  return JSON.stringify({
    id: paid.event,
    object: 'event',
    type: 'invoice.paid',
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: paid.invoice,
        object: 'invoice',
        customer: paid.customer,
        customer_email: paid.email,
        customer_name: paid.name,
        number: paid.number,
        status: 'paid',
        currency: 'eur',
        amount_due: paid.amount,
        amount_paid: paid.amount,
        amount_remaining: 0,
        due_date: null,
        hosted_invoice_url: null,
      },
    },
  });
}

/** POSTs `body` to `/hooks/billing` signed as Stripe signs it (the SDK's own test header) with `secret`. */
export function postStripeHook(
  port: number,
  body: string,
  secret: string,
): Promise<{ status: number; body: string }> {
  const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  return postHook(port, 'billing', body, { headers: { 'stripe-signature': header } });
}
