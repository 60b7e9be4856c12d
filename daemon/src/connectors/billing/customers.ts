/**
 * billing@1's customer actions: `findCustomers`, `listCustomers` and `getCustomer` (read) and
 * `createCustomer`.
 *
 * `createCustomer` is `internal`, not `external`: Stripe tells nobody when a customer record is
 * made (no mail, nothing on a statement), and a stray record does nothing until an invoice is
 * finalized or sent, which are `external` and asked for separately. It is created once per key:
 * Stripe's idempotency key covers a retried request, and the record carries metadata
 * `keel_key`, which `find` looks for (by email) after a crash.
 */
import type Stripe from 'stripe';
import { z } from 'zod';
import type { ActionContext, ConnectorAction } from '../sdk';
import { withStripe, type BillingSession } from './account';
import { customerSchema, keelKey, toCustomer, type CustomerOutput } from './model';
import { fromReviewYaml, reviewYaml } from './review';

/** How many customers a lookup by email reads at most (Stripe lists newest first). */
const LOOKUP_LIMIT = 100;

export const findCustomersInputSchema = z.strictObject({ email: z.string().email() });
export const customersOutputSchema = z.object({
  customers: z.array(customerSchema),
  hasMore: z.boolean(),
});
type CustomersOutput = z.infer<typeof customersOutputSchema>;

export const findCustomersAction: ConnectorAction<
  z.infer<typeof findCustomersInputSchema>,
  CustomersOutput
> = {
  description: 'Finds Stripe customers by exact email address, newest first.',
  risk: 'read',
  input: findCustomersInputSchema,
  output: customersOutputSchema,
  review: (input) => reviewYaml(`Find Stripe customers ${input.email}`, input),
  perform: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      const page = await stripe.customers.list({ email: input.email, limit: LOOKUP_LIMIT });
      return { customers: page.data.map(toCustomer), hasMore: page.has_more };
    }),
};

export const listCustomersInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(100).default(20),
  /** A customer id from a previous page: lists the ones after it. */
  after: z.string().min(1).optional(),
});

export const listCustomersAction: ConnectorAction<
  z.infer<typeof listCustomersInputSchema>,
  CustomersOutput
> = {
  description: 'Lists Stripe customers, newest first (limit; after: a customer id from the previous page).',
  risk: 'read',
  input: listCustomersInputSchema,
  output: customersOutputSchema,
  review: (input) => reviewYaml('List Stripe customers', input),
  perform: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      const page = await stripe.customers.list({
        limit: input.limit,
        ...(input.after ? { starting_after: input.after } : {}),
      });
      return { customers: page.data.map(toCustomer), hasMore: page.has_more };
    }),
};

export const getCustomerInputSchema = z.strictObject({
  id: z.string().regex(/^cus_[A-Za-z0-9]+$/, 'must be a Stripe customer id, like cus_1AbC...'),
});

export const getCustomerAction: ConnectorAction<z.infer<typeof getCustomerInputSchema>, CustomerOutput> = {
  description:
    'Reads one Stripe customer by id (cus_...), however old: a list reads only the newest. A deleted customer fails the step.',
  risk: 'read',
  input: getCustomerInputSchema,
  output: customerSchema,
  review: (input) => reviewYaml(`Read Stripe customer ${input.id}`, input),
  perform: (input, ctx) =>
    withStripe(ctx, async ({ stripe }) => {
      const customer = await stripe.customers.retrieve(input.id);
      if (customer.deleted) {
        throw new Error(`Stripe customer ${input.id} was deleted: there is no one to write to`);
      }
      return toCustomer(customer);
    }),
};

export const createCustomerInputSchema = z.strictObject({
  email: z.string().email(),
  name: z.string().min(1).max(256),
  description: z.string().max(500).optional(),
});
export type CreateCustomerInput = z.infer<typeof createCustomerInputSchema>;
export const createCustomerOutputSchema = customerSchema.extend({ resumed: z.boolean() });
type CreateCustomerOutput = z.infer<typeof createCustomerOutputSchema>;

/** The customer this key created, if Stripe has one (metadata `keel_key`, looked up by email). */
async function ownCustomer(
  session: BillingSession,
  email: string,
  ctx: ActionContext,
): Promise<CustomerOutput | null> {
  const key = keelKey(ctx.idempotencyKey);
  const page = await session.stripe.customers.list({ email, limit: LOOKUP_LIMIT });
  const found = page.data.find((customer) => customer.metadata?.keel_key === key);
  return found ? toCustomer(found) : null;
}

export const createCustomerAction: ConnectorAction<CreateCustomerInput, CreateCustomerOutput> = {
  description:
    'Creates a Stripe customer (email, name, optional description) to invoice; nobody is told. ' +
    'Look for an existing one with findCustomers first.',
  risk: 'internal',
  input: createCustomerInputSchema,
  output: createCustomerOutputSchema,
  review: (input) =>
    reviewYaml(`New Stripe customer: ${input.name} <${input.email}>`, input, [
      'Creates a customer record at Stripe; the customer is not contacted.',
    ]),
  fromReview: (text) => fromReviewYaml(createCustomerInputSchema, text, 'customer'),
  find: (input, ctx) =>
    withStripe(ctx, async (session) => {
      const found = await ownCustomer(session, input.email, ctx);
      return found ? { ...found, resumed: true } : null;
    }),
  perform: (input, ctx) =>
    withStripe(
      ctx,
      async ({ stripe }) => {
        const key = keelKey(ctx.idempotencyKey);
        const params: Stripe.CustomerCreateParams = {
          email: input.email,
          name: input.name,
          ...(input.description ? { description: input.description } : {}),
          metadata: { keel_key: key },
        };
        const customer = await stripe.customers.create(params, { idempotencyKey: key });
        return { ...toCustomer(customer), resumed: false };
      },
      true,
    ),
};
