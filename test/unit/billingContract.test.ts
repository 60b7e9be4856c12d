/**
 * billing@1's contract with the Stripe API, offline: recorded answers
 * (test/unit/recordings/billing-stripe.json, re-recorded with `npx tsx
 * test/helpers/billingRecording.ts` from stripe-stateful-mock and the test layer that follows
 * Stripe's API reference) are replayed on loopback, and findCustomers and overdueInvoices must
 * still turn them into their output schemas. An answer that changes shape fails here, by name.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { findCustomersAction } from '../../daemon/src/connectors/billing/customers';
import { overdueInvoicesAction, overdueOutputSchema } from '../../daemon/src/connectors/billing/invoices';
import { RECORDED_EMAIL, RECORDING, replayServer, type Exchange } from '../helpers/billingRecording';

let replay: Awaited<ReturnType<typeof replayServer>> | undefined;
afterEach(async () => {
  await replay?.close();
  replay = undefined;
});

const recorded = async (): Promise<Exchange[]> => JSON.parse(await readFile(RECORDING, 'utf8')) as Exchange[];

function context(url: string) {
  return {
    workspace: '/nonexistent',
    idempotencyKey: 'contract',
    credential: () => 'sk_test_not_sent_anywhere',
    config: { apiBase: url },
    signal: new AbortController().signal,
  };
}

it('findCustomers and overdueInvoices read the recorded answers into their schemas', async () => {
  replay = await replayServer(await recorded());
  const found = await findCustomersAction.perform({ email: RECORDED_EMAIL }, context(replay.url));
  expect(found.customers).toMatchObject([{ email: RECORDED_EMAIL }]);
  const overdue = await overdueInvoicesAction.perform(
    overdueInvoicesAction.input.parse({}),
    context(replay.url),
  );
  expect(replay.unexpected).toEqual([]);
  expect(overdueOutputSchema.safeParse(overdue).success).toBe(true);
  expect(overdue.invoices).toHaveLength(1);
  expect(overdue.invoices[0]).toMatchObject({
    customer: found.customers[0]!.id,
    status: 'open',
    currency: 'eur',
    amountDue: 80_000,
    lines: [{ description: 'Recorded work', amount: 80_000 }],
  });
  expect(overdue.invoices[0]!.daysOverdue).toBeGreaterThanOrEqual(10);
});

it('a recorded invoice whose amount_due is no longer an integer fails the schema at that field', async () => {
  const changed = (await recorded()).map((exchange) => ({
    ...exchange,
    body: exchange.body.replace(/"amount_due":\d+/, '"amount_due":"800.00"'),
  }));
  replay = await replayServer(changed);
  const output = await overdueInvoicesAction.perform(
    overdueInvoicesAction.input.parse({}),
    context(replay.url),
  );
  // The host checks every output against the action's schema; this one fails at the field.
  const checked = overdueOutputSchema.safeParse(output);
  expect(checked.success).toBe(false);
  expect(checked.error?.issues[0]?.path).toEqual(['invoices', 0, 'amountDue']);
});
