/**
 * Recorded Stripe exchanges for billing@1's offline contract tests: a recording relay between the
 * connector and the Stripe-compatible test server (billingServer.ts) keeps each request's
 * method, path and query and the server's status and JSON body; a replay server answers the same
 * requests, in order, from the recording, on loopback, and lists any request it did not expect.
 * A recording made again whose answers change shape fails the contract test by name.
 *
 *   npx tsx test/helpers/billingRecording.ts   # re-records test/unit/recordings/billing-stripe.json
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { findCustomersAction } from '../../daemon/src/connectors/billing/customers';
import { overdueInvoicesAction } from '../../daemon/src/connectors/billing/invoices';
import { createCustomerAction } from '../../daemon/src/connectors/billing/customers';
import { createInvoiceAction, finalizeInvoiceAction } from '../../daemon/src/connectors/billing/invoices';
import { startBillingServer, TEST_SECRET_KEY } from './billingServer';

export interface Exchange {
  method: string;
  /** Path and query, as sent. */
  path: string;
  status: number;
  body: string;
}

export const RECORDING = join(__dirname, '..', 'unit', 'recordings', 'billing-stripe.json');
/** The customer the recording reads (findCustomers) and whose overdue invoice it lists. */
export const RECORDED_EMAIL = 'recorded@example.org';

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** Answers each request with the next recorded exchange of the same method and path (query aside). */
export async function replayServer(
  exchanges: Exchange[],
): Promise<{ url: string; unexpected: string[]; close(): Promise<void> }> {
  const left = [...exchanges];
  const unexpected: string[] = [];
  const server = createServer((request, response) => {
    void body(request).then(() => {
      const path = (request.url ?? '/').split('?')[0];
      const index = left.findIndex((e) => e.method === request.method && e.path.split('?')[0] === path);
      if (index < 0) {
        unexpected.push(`${request.method} ${request.url}`);
        response
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"message":"not recorded"}}');
        return;
      }
      const [exchange] = left.splice(index, 1);
      response.writeHead(exchange!.status, { 'content-type': 'application/json' }).end(exchange!.body);
    });
  });
  const url = await listen(server);
  return {
    url,
    unexpected,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Makes a customer with an overdue invoice, then records findCustomers and overdueInvoices. */
async function record(): Promise<void> {
  const stripe = await startBillingServer();
  const exchanges: Exchange[] = [];
  const relay = createServer((request, response) => {
    void (async () => {
      const sent = await body(request);
      const answer = await fetch(`${stripe.url}${request.url}`, {
        method: request.method ?? 'GET',
        headers: {
          authorization: request.headers.authorization ?? '',
          'content-type': 'application/x-www-form-urlencoded',
        },
        ...(request.method === 'POST' ? { body: sent } : {}),
      });
      const text = await answer.text();
      exchanges.push({
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        status: answer.status,
        body: text,
      });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
    })();
  });
  const relayUrl = await listen(relay);
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
  const viaRelay = (key: string) => ({ ...ctx(key), config: { apiBase: relayUrl, currency: 'eur' } });
  await findCustomersAction.perform({ email: RECORDED_EMAIL }, viaRelay('r'));
  await overdueInvoicesAction.perform(overdueInvoicesAction.input.parse({}), viaRelay('r'));
  await writeFile(RECORDING, JSON.stringify(exchanges, null, 2) + '\n');
  relay.close();
  await stripe.stop();
}

if (require.main === module) {
  void record();
}
