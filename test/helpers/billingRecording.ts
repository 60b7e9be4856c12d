/**
 * Recorded Stripe exchanges for billing@1's offline contract tests: a recording relay
 * (httpRecording.ts) between the connector and the Stripe-compatible test server
 * (billingServer.ts) keeps each request's method, path and query and the server's status and JSON
 * body; a replay server answers the same requests, in order, from the recording, on loopback, and
 * lists any request it did not expect. A recording made again whose answers change shape fails
 * the contract test by name.
 *
 *   npx tsx test/helpers/billingRecording.ts   # re-records test/unit/recordings/billing-stripe.json
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findCustomersAction } from '../../daemon/src/connectors/billing/customers';
import { overdueInvoicesAction } from '../../daemon/src/connectors/billing/invoices';
import { createCustomerAction } from '../../daemon/src/connectors/billing/customers';
import { createInvoiceAction, finalizeInvoiceAction } from '../../daemon/src/connectors/billing/invoices';
import { startBillingServer, TEST_SECRET_KEY } from './billingServer';
import { recordingRelay } from './httpRecording';

export { replayServer, type Exchange } from './httpRecording';

export const RECORDING = join(__dirname, '..', 'unit', 'recordings', 'billing-stripe.json');
/** The customer the recording reads (findCustomers) and whose overdue invoice it lists. */
export const RECORDED_EMAIL = 'recorded@example.org';

/** Makes a customer with an overdue invoice, then records findCustomers and overdueInvoices. */
async function record(): Promise<void> {
  const stripe = await startBillingServer();
  const relay = await recordingRelay(stripe.url);
  const ctx = (key: string) => ({
    workspace: '/nonexistent',
    idempotencyKey: key,
    credential: () => TEST_SECRET_KEY,
    config: { apiBase: stripe.url, currency: 'eur' },
    signal: new AbortController().signal,
  });
  const customer = await createCustomerAction.perform(
    { email: RECORDED_EMAIL, name: 'Recorded Client' },
    ctx('c'),
  );
  const draft = await createInvoiceAction.perform(
    createInvoiceAction.input.parse({
      customer: customer.id,
      lines: [{ description: 'Recorded work', amount: 80_000 }],
    }),
    ctx('i'),
  );
  await finalizeInvoiceAction.perform({ invoice: draft.id }, ctx('f'));
  stripe.setDueDate(draft.id, Math.floor(Date.now() / 1000) - 10 * 86_400);
  const viaRelay = (key: string) => ({ ...ctx(key), config: { apiBase: relay.url, currency: 'eur' } });
  await findCustomersAction.perform({ email: RECORDED_EMAIL }, viaRelay('r'));
  await overdueInvoicesAction.perform(overdueInvoicesAction.input.parse({}), viaRelay('r'));
  await writeFile(RECORDING, JSON.stringify(relay.exchanges, null, 2) + '\n');
  await relay.close();
  await stripe.stop();
}

if (require.main === module) {
  void record();
}
