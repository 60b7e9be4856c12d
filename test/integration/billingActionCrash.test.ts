/**
 * Exactly once across `kill -9` for billing@1's `refund`: the daemon sends the refund, the
 * Stripe-compatible server makes it and never answers (a server gone silent), the daemon is
 * killed between the action's intent and its result and started again. The connector asks Stripe
 * for the refund tagged with the key it derives from the run and step (`find`), and the run
 * finishes with exactly one refund of the charge.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  billingAccount,
  startBillingServer,
  TEST_SECRET_KEY,
  type BillingServer,
} from '../helpers/billingServer';
import { makeBillingWorkspace } from '../helpers/billingWorkspace';
import { killAfterServerActed } from '../helpers/crashDaemon';
import type { TempDirs } from '../helpers/workspace';

let stripe: BillingServer;
let dirs: TempDirs;

beforeAll(async () => {
  stripe = await startBillingServer();
});
afterAll(async () => {
  expect(stripe.invalid).toEqual([]);
  await stripe?.stop();
});
beforeEach(async () => {
  dirs = await makeBillingWorkspace('keel-billing-crash-');
});
afterEach(async () => {
  await dirs.cleanup();
});

it('a refund cut off by kill -9 is found by its key: the run finishes, the charge has one refund', async () => {
  const charge = await stripe.charge(7_000, 'eur');
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${billingAccount(stripe, { name: 'bill' })}approvals:
  actions:
    - { action: bill.refund, decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'refund.yaml'),
    `apiVersion: keel/v1
name: refund
role: Tester
description: Killed in the middle of.
steps:
  - id: back
    type: connector
    use: bill
    action: refund
    with: { charge: ${charge}, amount: 3000 }
`,
  );
  const refundsMade = async (): Promise<number> => {
    const answer = await fetch(`${stripe.url}/v1/refunds?charge=${charge}`, {
      headers: { authorization: `Bearer ${TEST_SECRET_KEY}` },
    });
    return ((await answer.json()) as { data: unknown[] }).data.length;
  };

  stripe.holdAll('POST /v1/refunds');
  const run = await killAfterServerActed(
    dirs,
    'refund',
    'the server to make the refund while the daemon waits',
    async () => (await refundsMade()) > 0,
  );
  expect(run.status, run.error ?? '').toBe('succeeded');
  expect(await refundsMade()).toBe(1);
  // The second daemon found the refund by its key and sent no second one.
  expect(stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds')).toHaveLength(1);
}, 180_000);
