/**
 * The customer's side of Stripe against the test server: the test's own SDK client, and open
 * invoices set up as a customer would owe them (finalized, optionally already overdue).
 */
import { TEST_SECRET_KEY, type BillingServer } from './billingServer';
import { Stripe } from './stripeSdk';

/** The test's own Stripe client, talking to the test server with the test key. */
export function stripeClient(billing: Pick<BillingServer, 'url'>): Stripe {
  const url = new URL(billing.url);
  return new Stripe(TEST_SECRET_KEY, { host: url.hostname, port: Number(url.port), protocol: 'http' });
}

export interface InvoiceLine {
  /** Minor units (cents) in EUR. */
  amount: number;
  /** The line's text at Stripe; none unless given. */
  description?: string;
}

/** A finalized (open) invoice of one line for `customer`, due in 30 days; its id. */
export async function openInvoice(
  billing: BillingServer,
  customer: string,
  line: InvoiceLine,
): Promise<string> {
  const client = stripeClient(billing);
  const invoice = await client.invoices.create({
    customer,
    collection_method: 'send_invoice',
    days_until_due: 30,
    currency: 'eur',
  });
  await client.invoiceItems.create({
    customer,
    invoice: invoice.id,
    amount: line.amount,
    currency: 'eur',
    ...(line.description === undefined ? {} : { description: line.description }),
  });
  await client.invoices.finalizeInvoice(invoice.id);
  return invoice.id;
}

/** Moves an invoice's due date `days` into the past, as time passing would. */
export function makeOverdue(billing: BillingServer, invoice: string, days: number): void {
  billing.setDueDate(invoice, Math.floor(Date.now() / 1000) - days * 86_400);
}

/** An open invoice of one line for `customer` that is `days` overdue; its id. */
export async function overdueInvoice(
  billing: BillingServer,
  customer: string,
  line: InvoiceLine,
  days: number,
): Promise<string> {
  const invoice = await openInvoice(billing, customer, line);
  makeOverdue(billing, invoice, days);
  return invoice;
}
