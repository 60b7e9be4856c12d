/**
 * The billing test server against Stripe's published OpenAPI description: the answers it makes up
 * where stripe-stateful-mock has no endpoint (balance, invoices, invoice items) must fit the spec's
 * response schemas, recorded or live, and a request that does not fit the spec is refused by name.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDING, type Exchange } from '../helpers/billingRecording';
import {
  decodeForm,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { validateStripeRequest, validateStripeResponse } from '../helpers/stripeOpenApi';

/** The routes the test layer answers itself; the rest are stripe-stateful-mock's answers. */
const OURS = /^\/v1\/(balance|invoices|invoiceitems)(\/|$)/;

describe('answers the test layer makes up', () => {
  let stripe: BillingServer;
  beforeAll(async () => {
    stripe = await startBillingServer();
  });
  afterAll(() => stripe.stop());

  async function call(method: string, path: string, form?: Record<string, string>) {
    const response = await fetch(`${stripe.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_SECRET_KEY}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(body)).toBe(200);
    const route = path.split('?')[0]!;
    expect(validateStripeResponse(method, route, body)).toEqual([]);
    return body;
  }

  it('fit the spec for every operation billing@1 uses', async () => {
    const customer = await call('POST', '/v1/customers', { email: 'spec@example.org', name: 'Spec' });
    await call('GET', '/v1/balance');
    const draft = await call('POST', '/v1/invoices', {
      customer: String(customer.id),
      currency: 'eur',
      collection_method: 'send_invoice',
      days_until_due: '14',
      auto_advance: 'false',
      pending_invoice_items_behavior: 'exclude',
      'metadata[keel_key]': 'k1',
    });
    const id = String(draft.id);
    await call('POST', '/v1/invoiceitems', {
      customer: String(customer.id),
      invoice: id,
      amount: '1200',
      currency: 'eur',
      description: 'Work',
      'metadata[keel_line]': 'k1-line-0',
    });
    await call('GET', `/v1/invoices/${id}`);
    await call('POST', `/v1/invoices/${id}/finalize`, { auto_advance: 'false' });
    await call('POST', `/v1/invoices/${id}/send`, {});
    stripe.markPaid(id);
    const listed = await call('GET', `/v1/invoices?customer=${String(customer.id)}&limit=10`);
    expect(listed.data).toMatchObject([{ id, paid: true, amount_paid: 1200 }]);
    const other = await call('POST', '/v1/invoices', { customer: String(customer.id) });
    await call('DELETE', `/v1/invoices/${String(other.id)}`);
    expect(stripe.invalid).toEqual([]);
    // Eleven requests each checked against Stripe's whole OpenAPI description: seconds on a busy machine.
  }, 30_000);

  it('refuses a request with a field Stripe does not take, naming it, and records it', async () => {
    const response = await fetch(`${stripe.url}/v1/invoices`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_SECRET_KEY}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'customer=cus_x&due_in_days=3',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'unknown field due_in_days',
    );
    expect(stripe.invalid).toEqual(['POST /v1/invoices: unknown field due_in_days']);
  });
});

it('the recorded answers from the test layer fit the spec', async () => {
  const exchanges = JSON.parse(await readFile(RECORDING, 'utf8')) as Exchange[];
  const ours = exchanges.filter((exchange) => OURS.test(exchange.path.split('?')[0]!));
  expect(ours.length).toBeGreaterThan(0);
  for (const exchange of ours) {
    expect(
      validateStripeResponse(exchange.method, exchange.path.split('?')[0]!, JSON.parse(exchange.body)),
    ).toEqual([]);
  }
});

it('an answer with a field Stripe never sends, or without one it always sends, fails by name', () => {
  const balance = { object: 'balance', livemode: false, available: [], pending: [], sent_count: 1 };
  expect(validateStripeResponse('GET', '/v1/balance', balance)).toEqual([
    'answer to GET /v1/balance: unknown field sent_count',
  ]);
  expect(
    validateStripeResponse('GET', '/v1/balance', { object: 'balance', livemode: false, available: [] }),
  ).toEqual(['answer to GET /v1/balance: missing field pending']);
});

describe('validateStripeRequest', () => {
  const form = (text: string) => decodeForm(text);

  it('takes requests that fit, form values read as Stripe reads them', () => {
    expect(
      validateStripeRequest({
        method: 'POST',
        path: '/v1/invoices',
        form: form(
          'customer=cus_1&days_until_due=30&auto_advance=true&metadata[keel_key]=k&collection_method=send_invoice',
        ),
      }),
    ).toEqual([]);
    expect(
      validateStripeRequest({
        method: 'GET',
        path: '/v1/invoices',
        query: form('status=open&due_date[lt]=1796294918'),
      }),
    ).toEqual([]);
    expect(validateStripeRequest({ method: 'POST', path: '/v1/invoices/in_1/send', form: {} })).toEqual([]);
  });

  it('names an unknown field, nested or not, and values of the wrong type', () => {
    expect(
      validateStripeRequest({
        method: 'POST',
        path: '/v1/invoices',
        form: form('customer=cus_1&payment_settings[payment_method_types][0]=card&payment_settings[bogus]=1'),
      }),
    ).toEqual(['POST /v1/invoices: unknown field payment_settings[bogus]']);
    const wrong = validateStripeRequest({
      method: 'POST',
      path: '/v1/invoices',
      form: form('customer=cus_1&days_until_due=soon&collection_method=by_post'),
    });
    expect(wrong.sort()).toEqual([
      'POST /v1/invoices: collection_method must be equal to one of the allowed values',
      'POST /v1/invoices: days_until_due must be integer',
    ]);
    expect(validateStripeRequest({ method: 'GET', path: '/v1/invoices', query: form('state=open') })).toEqual(
      ['GET /v1/invoices: unknown field state'],
    );
  });

  it('names a path or method Stripe does not have', () => {
    expect(validateStripeRequest({ method: 'POST', path: '/v1/invoice', form: {} })).toEqual([
      'POST /v1/invoice: Stripe has no such path',
    ]);
    expect(validateStripeRequest({ method: 'DELETE', path: '/v1/invoices/in_1/send' })).toEqual([
      "DELETE /v1/invoices/in_1/send: Stripe's /v1/invoices/{invoice}/send takes POST, not DELETE",
    ]);
  });
});
