/**
 * Attacks on billing@1. A cloned workspace's keel.yaml points apiBase at a server of the
 * attacker's: nothing is sent there (the secret key least of all) until the operator trusted
 * that origin. Once trusted, runs that succeed and runs that fail at Stripe leave the secret key
 * nowhere: not in the journal, the trace, the daemon's log, the workspace or the runtime folder.
 * A webhook delivery with a forged signature is refused before anything in it is read.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  describeWants,
  ErrorCodes,
  KeelRpcError,
  RunGetRequest,
  RunStartRequest,
  TrustStateRequest,
} from '@keel/schemas';
import { billingConnector } from '../../daemon/src/connectors/billing';
import { WebhookRejected } from '../../daemon/src/connectors/sdk';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { makeBillingWorkspace } from '../helpers/billingWorkspace';
import { runReaches } from '../helpers/inProcessDaemon';
import { Stripe } from '../helpers/stripeSdk';
import { trust } from '../helpers/trust';
import type { TempDirs } from '../helpers/workspace';

let stripe: BillingServer;
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;
const logs: string[] = [];

beforeAll(async () => {
  stripe = await startBillingServer();
});
afterAll(async () => {
  await stripe?.stop();
});
beforeEach(async () => {
  dirs = await makeBillingWorkspace('keel-billing-sec-', 'whsec_operator_secret');
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${billingAccount(stripe, { name: 'bill' })}approvals:
  actions:
    - { action: bill.createCustomer, decide: allow }
    - { action: bill.refund, decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'bill.yaml'),
    `apiVersion: keel/v1
name: bill
role: Bookkeeper
description: Creates a customer, then refunds a charge that does not exist.
steps:
  - id: customer
    type: connector
    use: bill
    action: createCustomer
    with: { email: leak@example.org, name: "Leak Test" }
  - id: refund
    type: connector
    use: bill
    action: refund
    with: { charge: ch_doesnotexist, amount: 100 }
`,
  );
  logs.length = 0;
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => void logs.push(line) }),
  });
  client = new InProcessClient(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

it('an untrusted apiBase is never contacted; the trust prompt names it and where the key comes from', async () => {
  const before = stripe.requests.length;
  const state = await client.request(TrustStateRequest, {});
  expect(state.trusted).toBe(false);
  const origin = `http://127.0.0.1:${new URL(stripe.url).port}`;
  expect(state.endpoints).toContainEqual({ purpose: 'billing', origin, apiKeyEnv: 'KEEL_STRIPE_KEY' });
  expect(describeWants(state)).toContain(
    `Call the Stripe API at ${origin} with the secret key in the environment variable KEEL_STRIPE_KEY: read and create customers and invoices, send invoices, refund.`,
  );
  const refused = await client
    .request(RunStartRequest, { runbook: 'bill', inputs: {} })
    .catch((e: unknown) => e);
  expect((refused as KeelRpcError).code).toBe(ErrorCodes.NotTrusted);
  await daemon!.settled();
  expect(stripe.requests.length).toBe(before);
});

it('the secret key reaches no journal, trace, log or file, in a run that succeeds and fails', async () => {
  await trust(daemon!);
  const { id } = await client.request(RunStartRequest, { runbook: 'bill', inputs: {} });
  await runReaches(client, id, 'failed', 30_000);
  const trace = await client.request(RunGetRequest, { id });
  // The refund failed at Stripe (no such charge), with Stripe's message and not the key.
  expect(JSON.stringify(trace)).toMatch(/refused the request/);
  expect(stripe.requests.some((request) => request.path === '/v1/refunds' && request.authorized)).toBe(true);
  await daemon!.stop('test');
  daemon = null;
  expect(JSON.stringify(trace)).not.toContain(TEST_SECRET_KEY);
  expect(logs.length).toBeGreaterThan(0);
  expect(logs.join('\n')).not.toContain(TEST_SECRET_KEY);
  const files = [...(await filesUnder(dirs.workspace)), ...(await filesUnder(dirs.runtime))];
  expect(files.some((file) => file.includes(join('.keel', 'runs')))).toBe(true);
  for (const file of files) {
    const content = await readFile(file);
    expect(content.includes(TEST_SECRET_KEY), file).toBe(false);
  }
});

it('a webhook delivery with a forged signature is refused', () => {
  const body = JSON.stringify({
    id: 'evt_forged',
    object: 'event',
    type: 'invoice.paid',
    livemode: true,
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'in_forged', object: 'invoice', currency: 'eur', amount_paid: 999_999 } },
  });
  const ctx = {
    workspace: dirs.workspace,
    credential: () => 'whsec_operator_secret',
    config: {},
    signal: new AbortController().signal,
  };
  const forged = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_guessed' });
  const attempt = () =>
    billingConnector.webhook!.verify(
      { body: Buffer.from(body), headers: { 'stripe-signature': forged }, receivedAt: Date.now() },
      ctx,
    );
  expect(attempt).toThrow(WebhookRejected);
  expect(attempt).toThrow(/signature does not match/);
  // A header copied from another delivery does not sign this body either.
  const other = Stripe.webhooks.generateTestHeaderString({ payload: '{}', secret: 'whsec_operator_secret' });
  expect(() =>
    billingConnector.webhook!.verify(
      { body: Buffer.from(body), headers: { 'stripe-signature': other }, receivedAt: Date.now() },
      ctx,
    ),
  ).toThrow(WebhookRejected);
});
