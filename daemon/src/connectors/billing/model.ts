/**
 * billing@1's view of Stripe objects: the zod schemas of what its actions return and the
 * conversions from the SDK's objects. Amounts stay integer minor units (cents) next to their
 * currency, as Stripe gives them, so no float ever rounds a refund. Names, emails and
 * descriptions come from whoever filled them in at Stripe: untrusted data.
 */
import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import { z } from 'zod';

/** An amount in the currency's smallest unit (cents for usd and eur, yen for jpy). */
export const minorUnits = z.number().int().min(0).max(99_999_999);
export const currencyCode = z
  .string()
  .regex(/^[a-z]{3}$/, 'must be a three-letter ISO currency code in lower case, like eur');

/** `keel-<hash>`: the same for every attempt with one idempotency key, safe as a Stripe key and in metadata. */
export function keelKey(idempotencyKey: string): string {
  return `keel-${createHash('sha256').update(`billing@1:${idempotencyKey}`).digest('hex').slice(0, 32)}`;
}

const iso = (seconds: number | null | undefined): string | null =>
  typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : null;

export const customerSchema = z.object({
  id: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  created: z.string(),
});
export type CustomerOutput = z.infer<typeof customerSchema>;

export function toCustomer(customer: Stripe.Customer): CustomerOutput {
  return {
    id: customer.id,
    email: customer.email ?? null,
    name: customer.name ?? null,
    created: iso(customer.created) ?? '',
  };
}

export const invoiceLineSchema = z.object({ description: z.string().nullable(), amount: z.number().int() });
export const invoiceSchema = z.object({
  id: z.string(),
  customer: z.string(),
  status: z.string().nullable(),
  number: z.string().nullable(),
  currency: z.string(),
  total: z.number().int(),
  amountDue: z.number().int(),
  amountPaid: z.number().int(),
  dueDate: z.string().nullable(),
  hostedInvoiceUrl: z.string().nullable(),
  lines: z.array(invoiceLineSchema),
});
export type InvoiceOutput = z.infer<typeof invoiceSchema>;

export function toInvoice(invoice: Stripe.Invoice): InvoiceOutput {
  const customer = invoice.customer;
  return {
    id: invoice.id ?? '',
    customer: typeof customer === 'string' ? customer : (customer?.id ?? ''),
    status: invoice.status ?? null,
    number: invoice.number ?? null,
    currency: invoice.currency,
    total: invoice.total,
    amountDue: invoice.amount_due,
    amountPaid: invoice.amount_paid,
    dueDate: iso(invoice.due_date),
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
    lines: (invoice.lines?.data ?? []).map((line) => ({
      description: line.description ?? null,
      amount: line.amount,
    })),
  };
}

export const refundSchema = z.object({
  id: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string().nullable(),
  charge: z.string().nullable(),
  paymentIntent: z.string().nullable(),
  reason: z.string().nullable(),
});
export type RefundOutput = z.infer<typeof refundSchema>;

export function toRefund(refund: Stripe.Refund): RefundOutput {
  const id = (value: string | { id: string } | null | undefined) =>
    typeof value === 'string' ? value : (value?.id ?? null);
  return {
    id: refund.id,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status ?? null,
    charge: id(refund.charge),
    paymentIntent: id(refund.payment_intent),
    reason: refund.reason ?? null,
  };
}

/** `12.50 EUR` for an operator reading a review; zero-decimal currencies (jpy) have no cents. */
export function formatMoney(amount: number, currency: string): string {
  const zeroDecimal = ZERO_DECIMAL.has(currency.toLowerCase());
  const value = zeroDecimal ? String(amount) : (amount / 100).toFixed(2);
  return `${value} ${currency.toUpperCase()}`;
}

const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
