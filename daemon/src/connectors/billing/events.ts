/**
 * billing@1's events and their payloads, apart from the webhook check so that runbook parsing
 * (which checks trigger filters against these fields) does not load the Stripe SDK.
 */
import { z } from 'zod';
import type { ConnectorEvent } from '../sdk';

export const invoicePayloadSchema = z.object({
  stripeEventId: z.string(),
  invoice: z.string(),
  customer: z.string().nullable(),
  customerEmail: z.string().nullable(),
  customerName: z.string().nullable(),
  number: z.string().nullable(),
  status: z.string().nullable(),
  currency: z.string(),
  amountDue: z.number().int(),
  amountPaid: z.number().int(),
  amountRemaining: z.number().int(),
  dueDate: z.string().nullable(),
  hostedInvoiceUrl: z.string().nullable(),
  livemode: z.boolean(),
});
export type InvoiceEventPayload = z.infer<typeof invoicePayloadSchema>;

export const disputePayloadSchema = z.object({
  stripeEventId: z.string(),
  dispute: z.string(),
  charge: z.string().nullable(),
  amount: z.number().int(),
  currency: z.string(),
  reason: z.string().nullable(),
  status: z.string().nullable(),
  livemode: z.boolean(),
});

/** Stripe's event type → what the event means to the operator. */
export const INVOICE_EVENTS: Record<string, string> = {
  'invoice.paid': 'A Stripe invoice was paid in full.',
  'invoice.payment_failed': "A payment of a Stripe invoice failed (the customer's card was declined, ...).",
  'invoice.overdue':
    'A Stripe invoice passed its due date unpaid (sent when overdue reminders are on at Stripe).',
};
export const DISPUTE_CREATED = 'charge.dispute.created';

export const billingEvents: Record<string, ConnectorEvent> = {
  ...Object.fromEntries(
    Object.entries(INVOICE_EVENTS).map(([name, description]) => [
      name,
      { description, payload: invoicePayloadSchema },
    ]),
  ),
  [DISPUTE_CREATED]: {
    description: 'A customer disputed a charge with their bank; Stripe sets a deadline to answer.',
    payload: disputePayloadSchema,
  },
};
