/**
 * billing@1's invoice actions:
 *
 * - `createInvoice` (internal): a draft for a customer with its lines, collected by sending it
 *   (`send_invoice`, due `daysUntilDue` after finalizing), never advanced automatically. The
 *   draft carries metadata `keel_key` and each line `keel_line`, so an attempt after a crash
 *   finds the draft and adds only the missing lines; each request also carries a Stripe
 *   idempotency key from the same key. Undo: `deleteDraftInvoice`.
 * - `finalizeInvoice` (external): the draft gets its number and payment page; `find` sees it
 *   is no longer a draft.
 * - `sendInvoice` (external): Stripe emails it to the customer. Stripe keeps no "sent" mark to
 *   look up, so there is no `find`: a send cut off by a crash is left to the operator.
 * - `overdueInvoices` (read): open invoices past their due date, the ones to chase, and their
 *   customers, most overdue first and at most 20 (a chaser hands each customer off to a reminder
 *   run, and forEach starts at most 20). With `only`, it re-checks the invoices a reminder named.
 */
import type Stripe from 'stripe';
import { z } from 'zod';
import { MAX_FOR_EACH_ITEMS } from '@keel/schemas';
import type { ActionContext, ConnectorAction } from '../sdk';
import { BillingInputError, withStripe, type BillingSession } from './account';
import { currencyCode, formatMoney, invoiceSchema, keelKey, minorUnits, toInvoice } from './model';
import { fromReviewYaml, reviewYaml } from './review';

const invoiceId = z.string().regex(/^in_[A-Za-z0-9]+$/, 'must be a Stripe invoice id, like in_1AbC...');

export const createInvoiceInputSchema = z.strictObject({
  customer: z.string().regex(/^cus_[A-Za-z0-9]+$/, 'must be a Stripe customer id, like cus_1AbC...'),
  /** Default: keel.yaml's currency. */
  currency: currencyCode.optional(),
  description: z.string().max(500).optional(),
  lines: z
    .array(z.strictObject({ description: z.string().min(1).max(500), amount: minorUnits.min(1) }))
    .min(1)
    .max(50),
});
export type CreateInvoiceInput = z.infer<typeof createInvoiceInputSchema>;
export const createInvoiceOutputSchema = invoiceSchema.extend({ resumed: z.boolean() });
type CreateInvoiceOutput = z.infer<typeof createInvoiceOutputSchema>;

/** The draft this key made, if Stripe has it (the customer's invoices, metadata `keel_key`). */
async function ownDraft(
  session: BillingSession,
  customer: string,
  key: string,
): Promise<Stripe.Invoice | null> {
  for await (const invoice of session.stripe.invoices.list({ customer, limit: 100 })) {
    if (invoice.metadata?.keel_key === key) return invoice;
  }
  return null;
}

async function createDraft(
  session: BillingSession,
  input: CreateInvoiceInput,
  ctx: ActionContext,
): Promise<CreateInvoiceOutput> {
  const { stripe, account } = session;
  const key = keelKey(ctx.idempotencyKey);
  const currency = input.currency ?? account.currency;
  const existing = await ownDraft(session, input.customer, key);
  const draft =
    existing ??
    (await stripe.invoices.create(
      {
        customer: input.customer,
        currency,
        collection_method: 'send_invoice',
        days_until_due: account.daysUntilDue,
        auto_advance: false,
        pending_invoice_items_behavior: 'exclude',
        ...(input.description ? { description: input.description } : {}),
        metadata: { keel_key: key },
      },
      { idempotencyKey: key },
    ));
  const id = draft.id ?? '';
  const present = new Set(
    existing ? (existing.lines?.data ?? []).map((line) => line.metadata?.keel_line).filter(Boolean) : [],
  );
  for (const [index, line] of input.lines.entries()) {
    const lineKey = `${key}-line-${index}`;
    if (present.has(lineKey)) continue;
    await stripe.invoiceItems.create(
      {
        customer: input.customer,
        invoice: id,
        amount: line.amount,
        currency,
        description: line.description,
        metadata: { keel_line: lineKey },
      },
      { idempotencyKey: lineKey },
    );
  }
  return { ...toInvoice(await stripe.invoices.retrieve(id)), resumed: existing !== null };
}

export const createInvoiceAction: ConnectorAction<CreateInvoiceInput, CreateInvoiceOutput> = {
  description:
    'Creates a draft Stripe invoice for a customer (cus_...) with lines [{description, amount}] in ' +
    'integer minor units (cents) and an optional currency. Nobody sees a draft; finalizeInvoice and ' +
    'sendInvoice bill it. Undo: deleteDraftInvoice.',
  risk: 'internal',
  input: createInvoiceInputSchema,
  output: createInvoiceOutputSchema,
  review: (input) => invoiceReview(input),
  fromReview: (text) => fromReviewYaml(createInvoiceInputSchema, text, 'invoice'),
  undo: { action: 'deleteDraftInvoice', input: (_input, output) => ({ invoice: output.id }) },
  find: (input, ctx) =>
    withStripe(ctx, async (session) => {
      const draft = await ownDraft(session, input.customer, keelKey(ctx.idempotencyKey));
      if (!draft || (draft.lines?.data.length ?? 0) < input.lines.length) return null;
      return { ...toInvoice(draft), resumed: true };
    }),
  perform: (input, ctx) => withStripe(ctx, (session) => createDraft(session, input, ctx), true),
};

/** The draft as an operator reads it: who pays, each line with its amount written out, the total. */
function invoiceReview(input: CreateInvoiceInput) {
  const currency = input.currency ?? '(keel.yaml currency)';
  const total = input.lines.reduce((sum, line) => sum + line.amount, 0);
  const shown = (amount: number) =>
    input.currency ? formatMoney(amount, input.currency) : `${amount} minor units`;
  return reviewYaml(`Draft invoice for ${input.customer}: ${shown(total)}`, input, [
    `Draft invoice for customer ${input.customer} in ${currency}; nobody sees it until it is finalized and sent.`,
    ...input.lines.map((line) => `${line.description}: ${shown(line.amount)}`),
    `Total: ${shown(total)}. Amounts are integer minor units (cents).`,
  ]);
}

export const invoiceInputSchema = z.strictObject({ invoice: invoiceId });
type InvoiceInput = z.infer<typeof invoiceInputSchema>;
export const invoiceOutputSchema = invoiceSchema;
type InvoiceOutput = z.infer<typeof invoiceSchema>;

export const finalizeInvoiceAction: ConnectorAction<InvoiceInput, InvoiceOutput> = {
  description:
    'Finalizes a draft Stripe invoice (in_...): it gets its number, due date and payment page and can no longer be edited.',
  risk: 'external',
  input: invoiceInputSchema,
  output: invoiceOutputSchema,
  review: (input) =>
    reviewYaml(`Finalize Stripe invoice ${input.invoice}`, input, [
      'Gives the draft its number and payment page; it can then only be voided, not deleted.',
    ]),
  find: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      const invoice = await stripe.invoices.retrieve(input.invoice);
      return invoice.status === 'draft' ? null : toInvoice(invoice);
    }),
  perform: (input, ctx) =>
    withStripe(
      ctx,
      async ({ stripe }) =>
        toInvoice(
          await stripe.invoices.finalizeInvoice(
            input.invoice,
            { auto_advance: false },
            { idempotencyKey: keelKey(ctx.idempotencyKey) },
          ),
        ),
      true,
    ),
};

export const sendInvoiceAction: ConnectorAction<InvoiceInput, InvoiceOutput> = {
  description: 'Emails a finalized Stripe invoice (in_...) to its customer, with its payment link.',
  risk: 'external',
  input: invoiceInputSchema,
  output: invoiceOutputSchema,
  review: (input) =>
    reviewYaml(`Send Stripe invoice ${input.invoice}`, input, ['Stripe emails the invoice to the customer.']),
  perform: (input, ctx) =>
    withStripe(
      ctx,
      async ({ stripe }) =>
        toInvoice(
          await stripe.invoices.sendInvoice(
            input.invoice,
            {},
            { idempotencyKey: keelKey(ctx.idempotencyKey) },
          ),
        ),
      true,
    ),
};

export const deleteDraftInvoiceOutputSchema = z.object({ invoice: z.string(), deleted: z.boolean() });
type DeleteOutput = z.infer<typeof deleteDraftInvoiceOutputSchema>;

export const deleteDraftInvoiceAction: ConnectorAction<InvoiceInput, DeleteOutput> = {
  description:
    'Deletes a draft Stripe invoice (in_...); one already gone counts as deleted. Finalized invoices cannot be.',
  risk: 'internal',
  input: invoiceInputSchema,
  output: deleteDraftInvoiceOutputSchema,
  review: (input) => reviewYaml(`Delete draft Stripe invoice ${input.invoice}`, input),
  find: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      try {
        await stripe.invoices.retrieve(input.invoice);
        return null;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        return { invoice: input.invoice, deleted: true };
      }
    }),
  perform: (input, ctx) =>
    withStripe(
      ctx,
      async ({ stripe }) => {
        let invoice: Stripe.Invoice;
        try {
          invoice = await stripe.invoices.retrieve(input.invoice);
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode === 404)
            return { invoice: input.invoice, deleted: false };
          throw error;
        }
        if (invoice.status !== 'draft') {
          throw new BillingInputError(
            `Invoice ${input.invoice} is ${invoice.status ?? 'not a draft'}; only drafts can be deleted (void it at Stripe instead).`,
          );
        }
        await stripe.invoices.del(input.invoice);
        return { invoice: input.invoice, deleted: true };
      },
      true,
    ),
};

/** How many invoice ids one `only` re-check may name: a reminder's list, not an account's. */
export const MAX_RECHECK_IDS = 50;

export const overdueInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(200).default(50),
  customer: z
    .string()
    .regex(/^cus_[A-Za-z0-9]+$/, 'must be a Stripe customer id, like cus_1AbC...')
    .optional(),
  /**
   * Re-check these invoices only (a reminder's `invoiceIds`): the answer holds those of them still
   * open and overdue, never another, so "all shown are still open" is a comparison of sizes.
   */
  only: z
    .array(invoiceId)
    .min(1)
    .max(MAX_RECHECK_IDS, `names at most ${MAX_RECHECK_IDS} invoices; re-check a shorter list`)
    .optional(),
  /** At most this many customers, the most overdue first (a forEach hands off at most 20). */
  maxCustomers: z.number().int().min(1).max(MAX_FOR_EACH_ITEMS).default(MAX_FOR_EACH_ITEMS),
});
type OverdueInput = z.infer<typeof overdueInputSchema>;
const overdueInvoiceSchema = invoiceSchema.extend({ daysOverdue: z.number().int() });
type OverdueInvoice = z.infer<typeof overdueInvoiceSchema>;

export const overdueOutputSchema = z.object({
  invoices: z.array(overdueInvoiceSchema),
  /** The ids of `invoices`, in order: what a later read re-checks with `only`. */
  invoiceIds: z.array(z.string()),
  /**
   * The customers with an overdue invoice, most overdue first, at most `maxCustomers`: what a
   * runbook hands off one child run per customer for (`forEach`). Only ids and counts: amounts
   * are read again per customer.
   */
  customers: z.array(
    z.object({ customer: z.string(), invoices: z.number().int(), daysOverdue: z.number().int() }),
  ),
  /** Customers with an overdue invoice left out of `customers` by `maxCustomers`. */
  moreCustomers: z.number().int(),
});
type OverdueOutput = z.infer<typeof overdueOutputSchema>;

export const overdueInvoicesAction: ConnectorAction<OverdueInput, OverdueOutput> = {
  description:
    'Lists open Stripe invoices past their due date (optionally of one customer, or only the ids in ' +
    '`only`, to re-check them), most overdue first, and the customers they belong to, most overdue ' +
    'first (at most maxCustomers, default 20; moreCustomers counts the rest).',
  risk: 'read',
  input: overdueInputSchema,
  output: overdueOutputSchema,
  review: (input) => reviewYaml('List overdue Stripe invoices', input),
  perform: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      const now = Date.now();
      const found = input.only
        ? await stillOverdue(stripe, input.only, input.customer, now)
        : await allOverdue(stripe, input.customer, now);
      found.sort((a, b) => b.daysOverdue - a.daysOverdue);
      const invoices = found.slice(0, input.limit);
      // Customers from every invoice found, not only the first `limit`: none is left out unseen.
      const customers = byCustomer(found);
      return {
        invoices,
        invoiceIds: invoices.map((invoice) => invoice.id),
        customers: customers.slice(0, input.maxCustomers),
        moreCustomers: Math.max(0, customers.length - input.maxCustomers),
      };
    }),
};

/** The invoice as an overdue one, or null when it is not open or not yet due. */
function overdue(invoice: Stripe.Invoice, now: number): OverdueInvoice | null {
  if (invoice.status !== 'open' || !invoice.due_date || invoice.due_date * 1000 >= now) return null;
  return { ...toInvoice(invoice), daysOverdue: Math.floor((now - invoice.due_date * 1000) / 86_400_000) };
}

async function allOverdue(stripe: Stripe, customer: string | undefined, now: number) {
  const params: Stripe.InvoiceListParams = {
    status: 'open',
    due_date: { lt: Math.floor(now / 1000) },
    limit: 100,
    ...(customer ? { customer } : {}),
  };
  const found: OverdueInvoice[] = [];
  for await (const invoice of stripe.invoices.list(params)) {
    // Stripe filters by due_date already; checked again so a server that ignores the filter cannot mislead.
    const entry = overdue(invoice, now);
    if (entry) found.push(entry);
    if (found.length >= 1000) break;
  }
  return found;
}

/**
 * Each named invoice read on its own, kept while it is open, overdue (and the customer's, when one
 * is given). One that Stripe no longer has counts as not overdue: the reminder must not name it.
 */
async function stillOverdue(stripe: Stripe, ids: string[], customer: string | undefined, now: number) {
  const found: OverdueInvoice[] = [];
  for (const id of new Set(ids)) {
    let invoice: Stripe.Invoice;
    try {
      invoice = await stripe.invoices.retrieve(id);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) continue;
      throw error;
    }
    const entry = overdue(invoice, now);
    if (entry && (!customer || entry.customer === customer)) found.push(entry);
  }
  return found;
}

/** Customers of invoices sorted most overdue first, in that order: each once, with a count. */
function byCustomer(invoices: OverdueInvoice[]): OverdueOutput['customers'] {
  const customers = new Map<string, OverdueOutput['customers'][number]>();
  for (const invoice of invoices) {
    const seen = customers.get(invoice.customer);
    if (seen) seen.invoices += 1;
    else
      customers.set(invoice.customer, {
        customer: invoice.customer,
        invoices: 1,
        daysOverdue: invoice.daysOverdue,
      });
  }
  return [...customers.values()];
}
