/**
 * Recorded exchanges of http@1 with a real JSON API for its offline contract test: the Stripe
 * customers API of stripe-stateful-mock (billingServer.ts), a server Keel did not write, called
 * through http@1's own probe and `get` with the response schemas an operator would declare in
 * keel.yaml, via the recording relay of httpRecording.ts (the bearer token is never recorded).
 *
 *   npx tsx test/helpers/httpConnectorRecording.ts   # re-records test/unit/recordings/http-stripe-customers.json
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format } from 'prettier';
import { getAction } from '../../daemon/src/connectors/http/actions';
import { probeHttp } from '../../daemon/src/connectors/http/probe';
import { startBillingServer, TEST_SECRET_KEY } from './billingServer';
import { recordingRelay } from './httpRecording';

export const HTTP_RECORDING = join(__dirname, '..', 'unit', 'recordings', 'http-stripe-customers.json');
export const RECORDED_EMAIL = 'recorded@example.org';

/** A customer as keel.yaml's `schemas:` would declare the fields its runbooks read. */
export const CUSTOMER_SCHEMA = {
  type: 'object',
  required: ['id', 'object', 'email', 'created', 'balance'],
  properties: {
    id: { type: 'string' },
    object: { const: 'customer' },
    email: { type: ['string', 'null'] },
    created: { type: 'integer' },
    balance: { type: 'integer' },
  },
};

/** keel.yaml's settings for the connector: named schemas, and the probe's list of customers. */
export function httpSettings(baseUrl: string): Record<string, unknown> {
  return {
    baseUrl,
    schemas: {
      customer: CUSTOMER_SCHEMA,
      customers: {
        type: 'object',
        required: ['object', 'data'],
        properties: { object: { const: 'list' }, data: { type: 'array', items: CUSTOMER_SCHEMA } },
      },
    },
    probe: { path: 'v1/customers', schema: 'customers' },
  };
}

/** The context http@1 runs with: the token is the test server's key (never recorded). */
export function httpContext(config: Record<string, unknown>, token = TEST_SECRET_KEY) {
  return {
    workspace: '/nonexistent',
    idempotencyKey: 'contract',
    credential: (name: string) => {
      if (name === 'token') return token;
      throw new Error(`connector "api" asks for the credential "${name}", which keel.yaml does not name`);
    },
    config,
    signal: new AbortController().signal,
  };
}

/** Makes one customer, then records http@1's probe and a `get` of that customer. */
async function record(): Promise<void> {
  const stripe = await startBillingServer();
  const made = await fetch(`${stripe.url}/v1/customers`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_SECRET_KEY}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ email: RECORDED_EMAIL, name: 'Recorded Client' }).toString(),
  });
  const { id } = (await made.json()) as { id: string };
  const relay = await recordingRelay(stripe.url);
  const ctx = httpContext(httpSettings(relay.url));
  const probe = await probeHttp(ctx);
  if (!probe.ok) throw new Error(`the probe failed while recording: ${probe.detail}`);
  await getAction.perform({ path: `v1/customers/${id}`, responseSchema: 'customer' }, ctx);
  await writeFile(HTTP_RECORDING, await format(JSON.stringify(relay.exchanges), { parser: 'json' }));
  await relay.close();
  await stripe.stop();
  process.stdout.write(`recorded ${relay.exchanges.length} exchanges to ${HTTP_RECORDING}\n`);
}

if (require.main === module) {
  record().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
