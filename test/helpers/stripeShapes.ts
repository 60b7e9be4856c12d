/**
 * The requests billing@1 may send, checked against the Stripe SDK's own typed request shapes
 * (`Stripe.InvoiceCreateParams`, ...): no npm package ships Stripe's published OpenAPI
 * description (the `stripe` package carries types only), so each route's parameter names are
 * listed here as `keyof` the SDK's params type, which the compiler checks against the SDK. The
 * test server refuses, like Stripe, any other method, path or top-level form parameter, and
 * records the refusal so a test fails by name.
 */
import type { Stripe } from './stripeSdk';

interface Shape {
  method: 'GET' | 'POST' | 'DELETE';
  path: RegExp;
  /** Top-level parameter names the SDK's params type allows. */
  params: readonly string[];
  /** Names a request must carry. */
  required?: readonly string[];
  /** Exactly one of these must be present. */
  oneOf?: readonly string[];
}

const ID = '[A-Za-z0-9_]+';
const names = <T>(list: readonly (keyof T & string)[]) => list;

export const STRIPE_REQUEST_SHAPES: Shape[] = [
  { method: 'GET', path: /^\/v1\/balance$/, params: names<Stripe.BalanceRetrieveParams>(['expand']) },
  {
    method: 'POST',
    path: /^\/v1\/customers$/,
    params: names<Stripe.CustomerCreateParams>(['email', 'name', 'description', 'metadata', 'expand']),
  },
  {
    method: 'GET',
    path: /^\/v1\/customers$/,
    params: names<Stripe.CustomerListParams>([
      'email',
      'limit',
      'starting_after',
      'ending_before',
      'created',
    ]),
  },
  {
    method: 'GET',
    path: new RegExp(`^/v1/customers/${ID}$`),
    params: names<Stripe.CustomerRetrieveParams>(['expand']),
  },
  {
    method: 'POST',
    path: /^\/v1\/invoices$/,
    params: names<Stripe.InvoiceCreateParams>([
      'customer',
      'currency',
      'collection_method',
      'days_until_due',
      'auto_advance',
      'pending_invoice_items_behavior',
      'description',
      'metadata',
    ]),
    required: ['customer'],
  },
  {
    method: 'GET',
    path: /^\/v1\/invoices$/,
    params: names<Stripe.InvoiceListParams>([
      'customer',
      'status',
      'due_date',
      'limit',
      'starting_after',
      'ending_before',
      'created',
    ]),
  },
  {
    method: 'GET',
    path: new RegExp(`^/v1/invoices/${ID}$`),
    params: names<Stripe.InvoiceRetrieveParams>(['expand']),
  },
  { method: 'DELETE', path: new RegExp(`^/v1/invoices/${ID}$`), params: [] },
  {
    method: 'POST',
    path: new RegExp(`^/v1/invoices/${ID}/finalize$`),
    params: names<Stripe.InvoiceFinalizeInvoiceParams>(['auto_advance', 'expand']),
  },
  {
    method: 'POST',
    path: new RegExp(`^/v1/invoices/${ID}/send$`),
    params: names<Stripe.InvoiceSendInvoiceParams>(['expand']),
  },
  {
    method: 'POST',
    path: /^\/v1\/invoiceitems$/,
    params: names<Stripe.InvoiceItemCreateParams>([
      'customer',
      'invoice',
      'amount',
      'currency',
      'description',
      'metadata',
    ]),
    required: ['customer', 'amount', 'currency'],
  },
  {
    method: 'POST',
    path: /^\/v1\/refunds$/,
    params: names<Stripe.RefundCreateParams>(['charge', 'payment_intent', 'amount', 'reason', 'metadata']),
    oneOf: ['charge', 'payment_intent'],
  },
  {
    method: 'GET',
    path: /^\/v1\/refunds$/,
    params: names<Stripe.RefundListParams>([
      'charge',
      'payment_intent',
      'limit',
      'starting_after',
      'ending_before',
    ]),
  },
  // Test setup only (a charge to refund), not sent by Keel.
  {
    method: 'POST',
    path: /^\/v1\/charges$/,
    params: names<Stripe.ChargeCreateParams>(['amount', 'currency', 'source', 'customer', 'description']),
  },
];

/** Why the request does not fit any shape, or null when it does. */
export function shapeProblem(method: string, path: string, params: Record<string, unknown>): string | null {
  const routes = STRIPE_REQUEST_SHAPES.filter((shape) => shape.path.test(path));
  if (routes.length === 0) return `no Stripe route ${path}`;
  const shape = routes.find((candidate) => candidate.method === method);
  if (!shape) return `${method} ${path}: Stripe's route takes ${routes.map((r) => r.method).join(', ')}`;
  for (const name of Object.keys(params)) {
    if (!shape.params.includes(name)) return `${method} ${path}: unknown parameter ${name}`;
  }
  for (const name of shape.required ?? []) {
    if (!(name in params)) return `${method} ${path}: missing required parameter ${name}`;
  }
  if (shape.oneOf && shape.oneOf.filter((name) => name in params).length !== 1) {
    return `${method} ${path}: needs exactly one of ${shape.oneOf.join(', ')}`;
  }
  return null;
}
