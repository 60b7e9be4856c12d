/**
 * billing@1's `refund` (irreversible): money goes back to the customer's card and cannot be
 * taken back, so it always asks the operator unless a keel.yaml rule allows `billing.refund` by
 * name. Once per key: Stripe's idempotency key covers a retried request, and the refund carries
 * metadata `keel_key`, which `find` looks for among the charge's refunds after a crash.
 */
import type Stripe from 'stripe';
import { z } from 'zod';
import type { ConnectorAction } from '../sdk';
import { withStripe, type BillingSession } from './account';
import { keelKey, minorUnits, refundSchema, toRefund, type RefundOutput } from './model';
import { fromReviewYaml, reviewYaml } from './review';

export const refundInputSchema = z
  .strictObject({
    /** The charge (ch_...) to refund, or */
    charge: z
      .string()
      .regex(/^ch_[A-Za-z0-9]+$/, 'must be a Stripe charge id, like ch_1AbC...')
      .optional(),
    /** the payment intent (pi_...) to refund. */
    paymentIntent: z
      .string()
      .regex(/^pi_[A-Za-z0-9]+$/, 'must be a Stripe payment intent id, like pi_1AbC...')
      .optional(),
    /** Minor units (cents); default the whole remaining amount. */
    amount: minorUnits.min(1).optional(),
    reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  })
  .refine((input) => (input.charge === undefined) !== (input.paymentIntent === undefined), {
    message: 'name exactly one of charge or paymentIntent',
  });
export type RefundInput = z.infer<typeof refundInputSchema>;
export const refundOutputSchema = refundSchema.extend({ resumed: z.boolean() });
type Output = z.infer<typeof refundOutputSchema>;

function target(input: RefundInput): { charge: string } | { payment_intent: string } {
  return input.charge ? { charge: input.charge } : { payment_intent: input.paymentIntent ?? '' };
}

/** The refund this key made, if Stripe has it (the charge's refunds, metadata `keel_key`). */
async function ownRefund(
  session: BillingSession,
  input: RefundInput,
  key: string,
): Promise<RefundOutput | null> {
  for await (const refund of session.stripe.refunds.list({ ...target(input), limit: 100 })) {
    if (refund.metadata?.keel_key === key) return toRefund(refund);
  }
  return null;
}

export const refundAction: ConnectorAction<RefundInput, Output> = {
  description:
    'Refunds a Stripe charge (ch_...) or payment intent (pi_...), wholly or `amount` minor units ' +
    '(cents), with an optional reason. Cannot be undone.',
  risk: 'irreversible',
  input: refundInputSchema,
  output: refundOutputSchema,
  review: (input) =>
    reviewYaml(`Refund ${input.charge ?? input.paymentIntent}`, input, [
      'IRREVERSIBLE: the money goes back to the customer and cannot be taken back.',
      input.amount === undefined
        ? 'Amount: everything not yet refunded.'
        : `Amount: ${input.amount} minor units of the charge's currency (${(input.amount / 100).toFixed(2)} in a currency with cents, like EUR or USD).`,
    ]),
  fromReview: (text) => fromReviewYaml(refundInputSchema, text, 'refund'),
  find: (input, ctx) =>
    withStripe(ctx, async (session) => {
      const found = await ownRefund(session, input, keelKey(ctx.idempotencyKey));
      return found ? { ...found, resumed: true } : null;
    }),
  perform: (input, ctx) =>
    withStripe(
      ctx,
      async ({ stripe }) => {
        const key = keelKey(ctx.idempotencyKey);
        const params: Stripe.RefundCreateParams = {
          ...target(input),
          ...(input.amount !== undefined ? { amount: input.amount } : {}),
          ...(input.reason ? { reason: input.reason } : {}),
          metadata: { keel_key: key },
        };
        return { ...toRefund(await stripe.refunds.create(params, { idempotencyKey: key })), resumed: false };
      },
      true,
    ),
};
