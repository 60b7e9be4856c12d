/**
 * A Stripe-compatible server for billing@1's tests, on loopback: stripe-stateful-mock (customers,
 * charges, refunds, Stripe's idempotency keys) behind a small HTTP layer of our own. The layer
 * checks every request against Stripe's published OpenAPI description (stripeOpenApi.ts), refuses
 * one that does not fit with a 400 as Stripe would, records it (never the key), and answers what
 * the mock lacks in the shapes that description gives (test/unit/stripeOpenApi.test.ts checks them): balance,
 * invoices (create as draft, list with status/customer/due_date filters, retrieve, delete a
 * draft, finalize, send) and invoice items, with idempotent replay of keyed POSTs.
 *
 *   const stripe = await startBillingServer();
 *   stripe.url                          // http://127.0.0.1:PORT (keel.yaml's apiBase)
 *   await stripe.charge(5000, 'eur')    // a charge (ch_...) to refund
 *   stripe.requests, stripe.invalid     // what Keel sent; why requests that do not fit Stripe's description were refused
 *   stripe.cutNext('POST /v1/refunds', 2)  // does the next two, then drops their connections unanswered
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { validateStripeRequest } from './stripeOpenApi';

export const TEST_SECRET_KEY = `sk_test_keel${randomBytes(12).toString('hex')}`;

export interface SentRequest {
  method: string;
  path: string;
  params: Record<string, unknown>;
  idempotencyKey: string | null;
  /** Whether it carried TEST_SECRET_KEY (the value itself is never recorded). */
  authorized: boolean;
}

export interface BillingServer {
  url: string;
  requests: SentRequest[];
  invalid: string[];
  /** A charge of `amount` minor units on a test card, made at the mock. */
  charge(amount: number, currency: string): Promise<string>;
  /** Moves an invoice's due date (seconds since epoch), as time passing would. */
  setDueDate(invoice: string, dueDate: number): void;
  invoice(id: string): Record<string, unknown> | undefined;
  /**
   * The next `times` requests matching `METHOD /path` are carried out, then their connections
   * closed unanswered (the SDK sends a request cut off so once more, with the same idempotency key).
   */
  cutNext(route: string, times?: number): void;
  /**
   * From now on, requests matching `METHOD /path` are carried out and never answered (a server gone
   * silent); `METHOD /path?customer=cus_1` holds only those with these parameters.
   */
  holdAll(route: string): void;
  /** Answers requests matching `METHOD /path` again (those held before stay unanswered). */
  release(route: string): void;
  /** Marks an open invoice paid, as Stripe does when the customer pays it. */
  markPaid(invoice: string): void;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

/** Whether a held route (`GET /v1/invoices`, or with parameters `?customer=cus_1`) holds this request. */
function holds(entry: string, route: string, params: Json): boolean {
  const [held, query] = entry.split('?');
  if (held !== route) return false;
  return [...new URLSearchParams(query ?? '')].every(([key, value]) => String(params[key]) === value);
}

/** `a[b][c]=v` form and query parameters as nested objects (how Stripe reads them). */
export function decodeForm(text: string): Json {
  const out: Json = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const parts = key.split(/\[|\]\[|\]/).filter((part) => part !== '');
    let node = out;
    parts.forEach((part, index) => {
      if (index === parts.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Json;
    });
  }
  return out;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

class StripeFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const now = () => Math.floor(Date.now() / 1000);
let sequence = 0;
const newId = (prefix: string) => `${prefix}_${randomBytes(7).toString('hex')}${++sequence}`;

/** Invoices and invoice items, as Stripe's API reference describes them (the fields billing@1 reads). */
class InvoiceBook {
  readonly invoices = new Map<string, Json>();

  constructor(private readonly customerExists: (id: string) => Promise<boolean>) {}

  async create(params: Json): Promise<Json> {
    const customer = String(params.customer);
    if (!(await this.customerExists(customer)))
      throw new StripeFailure(404, `No such customer: '${customer}'`, 'customer');
    const id = newId('in');
    const created = now();
    const invoice: Json = {
      id,
      object: 'invoice',
      customer,
      currency: params.currency ?? 'usd',
      collection_method: params.collection_method ?? 'charge_automatically',
      // Kept for finalize; not part of Stripe's invoice object, so view() leaves it out.
      days_until_due: params.days_until_due ? Number(params.days_until_due) : null,
      auto_advance: params.auto_advance === 'true',
      description: params.description ?? null,
      metadata: params.metadata ?? {},
      status: 'draft',
      number: null,
      due_date: null,
      hosted_invoice_url: null,
      created,
      livemode: false,
      lines: { object: 'list', url: `/v1/invoices/${id}/lines`, data: [], has_more: false },
      // Fields Stripe's invoice object always carries (its OpenAPI description lists them as required).
      amount_shipping: 0,
      attempt_count: 0,
      attempted: false,
      automatic_tax: { enabled: false, status: null },
      default_tax_rates: [],
      paid_out_of_band: false,
      payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
      period_start: created,
      period_end: created,
      post_payment_credit_notes_amount: 0,
      pre_payment_credit_notes_amount: 0,
      starting_balance: 0,
      status_transitions: {
        finalized_at: null,
        marked_uncollectible_at: null,
        paid_at: null,
        voided_at: null,
      },
      total_tax_amounts: [],
    };
    this.invoices.set(invoice.id as string, invoice);
    return this.view(invoice);
  }

  addItem(params: Json): Json {
    const invoice = this.get(String(params.invoice));
    if (invoice.status !== 'draft')
      throw new StripeFailure(400, 'You can only add items to a draft invoice.', 'invoice');
    const date = now();
    const shared = {
      amount: Number(params.amount),
      currency: params.currency,
      description: params.description ?? null,
      metadata: params.metadata ?? {},
      discountable: true,
      livemode: false,
      period: { start: date, end: date },
      proration: false,
      quantity: 1,
    };
    const item = { ...shared, id: newId('ii'), object: 'invoiceitem', customer: invoice.customer, date };
    (invoice.lines as { data: Json[] }).data.push({
      ...shared,
      id: newId('il'),
      object: 'line_item',
      type: 'invoiceitem',
      invoice_item: item.id,
    });
    return { ...item, invoice: invoice.id };
  }

  get(id: string): Json {
    const invoice = this.invoices.get(id);
    if (!invoice) throw new StripeFailure(404, `No such invoice: '${id}'`, 'id');
    return invoice;
  }

  view(invoice: Json): Json {
    const lines = (invoice.lines as { data: { amount: number }[] }).data;
    const total = lines.reduce((sum, line) => sum + line.amount, 0);
    const paid = invoice.status === 'paid' ? total : 0;
    // What the book keeps for itself (payment terms, times sent) is not part of Stripe's answer.
    const { days_until_due: _terms, sent_count: _sent, ...stripeFields } = invoice;
    return {
      ...stripeFields,
      paid: invoice.status === 'paid',
      subtotal: total,
      total,
      amount_due: total,
      amount_paid: paid,
      amount_remaining: total - paid,
    };
  }

  finalize(id: string): Json {
    const invoice = this.get(id);
    if (invoice.status !== 'draft') {
      throw new StripeFailure(
        400,
        `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
      );
    }
    invoice.status = 'open';
    (invoice.status_transitions as Json).finalized_at = now();
    invoice.number = `KEEL-${String(this.invoices.size).padStart(4, '0')}`;
    invoice.hosted_invoice_url = `https://invoice.stripe.test/i/${id}`;
    if (invoice.collection_method === 'send_invoice') {
      invoice.due_date = now() + Number(invoice.days_until_due ?? 30) * 86_400;
    }
    return this.view(invoice);
  }

  send(id: string): Json {
    const invoice = this.get(id);
    if (invoice.status !== 'open')
      throw new StripeFailure(400, 'You can only send an open (finalized) invoice.');
    invoice.sent_count = Number(invoice.sent_count ?? 0) + 1;
    return this.view(invoice);
  }

  remove(id: string): Json {
    const invoice = this.get(id);
    if (invoice.status !== 'draft') throw new StripeFailure(400, 'You can only delete draft invoices.');
    this.invoices.delete(id);
    return { id, object: 'invoice', deleted: true };
  }

  list(params: Json): Json {
    const due = (params.due_date ?? {}) as Record<string, string>;
    let data = [...this.invoices.values()].reverse();
    if (params.customer) data = data.filter((invoice) => invoice.customer === params.customer);
    if (params.status) data = data.filter((invoice) => invoice.status === params.status);
    if (due.lt)
      data = data.filter((invoice) => invoice.due_date !== null && Number(invoice.due_date) < Number(due.lt));
    if (params.starting_after) {
      const index = data.findIndex((invoice) => invoice.id === params.starting_after);
      data = data.slice(index + 1);
    }
    const limit = Number(params.limit ?? 10);
    return {
      object: 'list',
      url: '/v1/invoices',
      data: data.slice(0, limit).map((i) => this.view(i)),
      has_more: data.length > limit,
    };
  }
}

/** Starts the mock and the layer in front of it, both on 127.0.0.1. */
export async function startBillingServer(): Promise<BillingServer> {
  const mockModule = createRequire(__filename)('stripe-stateful-mock') as {
    createExpressApp(): (request: IncomingMessage, response: ServerResponse) => void;
  };
  const inner = createServer(mockModule.createExpressApp());
  const innerPort = await listen(inner);
  const innerUrl = `http://127.0.0.1:${innerPort}`;
  const requests: SentRequest[] = [];
  const invalid: string[] = [];
  const cuts = new Map<string, number>();
  const held = new Set<string>();
  const replies = new Map<string, { status: number; body: Json }>();
  const mockAuth = { authorization: `Bearer ${TEST_SECRET_KEY}` };
  const book = new InvoiceBook(
    async (id) => (await fetch(`${innerUrl}/v1/customers/${id}`, { headers: mockAuth })).ok,
  );

  const local = async (method: string, path: string, params: Json): Promise<Json | null> => {
    const [, , resource, id, verb] = path.split('/');
    if (resource === 'balance' && method === 'GET') {
      return { object: 'balance', livemode: false, available: [{ amount: 0, currency: 'usd' }], pending: [] };
    }
    if (resource === 'invoiceitems' && method === 'POST') return book.addItem(params);
    if (resource !== 'invoices') return null;
    if (!id) return method === 'POST' ? await book.create(params) : book.list(params);
    if (verb === 'finalize') return book.finalize(id);
    if (verb === 'send') return book.send(id);
    if (method === 'DELETE') return book.remove(id);
    return book.view(book.get(id));
  };

  const outer = createServer((request, response) => {
    void (async () => {
      const method = request.method ?? 'GET';
      const url = new URL(request.url ?? '/', 'http://stripe.test');
      const body = await readBody(request);
      const params = decodeForm(method === 'GET' || method === 'DELETE' ? url.search.slice(1) : body);
      const idempotencyKey = (request.headers['idempotency-key'] as string | undefined) ?? null;
      const authorized = request.headers.authorization === `Bearer ${TEST_SECRET_KEY}`;
      requests.push({ method, path: url.pathname, params, idempotencyKey, authorized });
      const send = (status: number, json: Json) => {
        const route = `${method} ${url.pathname}`;
        if ([...held].some((entry) => holds(entry, route, params))) return;
        const left = cuts.get(route) ?? 0;
        if (left > 0) {
          cuts.set(route, left - 1);
          request.socket.destroy();
          return;
        }
        response.writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req') });
        response.end(JSON.stringify(json));
      };
      const problems = validateStripeRequest({
        method,
        path: url.pathname,
        query: decodeForm(url.search.slice(1)),
        form: method === 'POST' ? params : {},
      });
      if (problems.length > 0) {
        invalid.push(...problems);
        send(400, {
          error: {
            type: 'invalid_request_error',
            message: `Received an invalid request: ${problems.join('; ')}`,
          },
        });
        return;
      }
      if (!authorized) {
        send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
        return;
      }
      const replayKey = idempotencyKey && method === 'POST' ? `${url.pathname} ${idempotencyKey}` : null;
      const replay = replayKey ? replies.get(replayKey) : undefined;
      if (replay) return send(replay.status, replay.body);
      try {
        const answer = await local(method, url.pathname, params);
        if (answer) {
          if (replayKey) replies.set(replayKey, { status: 200, body: answer });
          return send(200, answer);
        }
      } catch (error) {
        if (!(error instanceof StripeFailure)) throw error;
        const failure = {
          error: { type: 'invalid_request_error', message: error.message, param: error.param },
        };
        return send(error.status, failure);
      }
      const forwarded = await fetch(`${innerUrl}${url.pathname}${url.search}`, {
        method,
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(
            ([name]) => !['host', 'connection', 'content-length'].includes(name),
          ),
        ) as Record<string, string>,
        ...(method === 'POST' ? { body } : {}),
      });
      send(forwarded.status, (await forwarded.json()) as Json);
    })().catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { type: 'api_error', message: String(error) } }));
    });
  });
  const port = await listen(outer);

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    invalid,
    async charge(amount, currency) {
      const answer = await fetch(`${innerUrl}/v1/charges`, {
        method: 'POST',
        headers: { ...mockAuth, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ amount: String(amount), currency, source: 'tok_visa' }).toString(),
      });
      const charge = (await answer.json()) as { id?: string; error?: { message: string } };
      if (!charge.id) throw new Error(`The mock made no charge: ${charge.error?.message}`);
      return charge.id;
    },
    setDueDate(invoice, dueDate) {
      book.get(invoice).due_date = dueDate;
    },
    invoice: (id) => book.invoices.get(id),
    cutNext: (route, times = 1) => cuts.set(route, times),
    holdAll: (route) => held.add(route),
    release: (route) => held.delete(route),
    markPaid(invoice) {
      const paid = book.get(invoice);
      if (paid.status !== 'open') throw new Error(`${invoice} is ${String(paid.status)}, not open`);
      paid.status = 'paid';
      (paid.status_transitions as Json).paid_at = now();
    },
    async stop() {
      outer.closeAllConnections();
      inner.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => outer.close(resolve)),
        new Promise((resolve) => inner.close(resolve)),
      ]);
    },
  };
}

/**
 * keel.yaml's entry (under `connectors:`) for the test server: `billing` unless named, the key
 * from KEEL_STRIPE_KEY and the webhook secret from KEEL_STRIPE_WEBHOOK, plus `extra` lines.
 */
export function billingAccount(
  server: Pick<BillingServer, 'url'>,
  options: { name?: string; extra?: string[] } = {},
): string {
  return [
    `  ${options.name ?? 'billing'}:`,
    '    use: billing@1',
    `    apiBase: ${server.url}`,
    '    currency: eur',
    '    credentials: { secretKey: { env: KEEL_STRIPE_KEY }, webhookSecret: { env: KEEL_STRIPE_WEBHOOK } }',
    ...(options.extra ?? []).map((line) => `    ${line}`),
    '',
  ].join('\n');
}
