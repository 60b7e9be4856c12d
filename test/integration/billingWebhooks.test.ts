/**
 * Stripe's webhooks into runs, end to end: a delivery signed as Stripe signs it (the SDK's own
 * test header) reaches the daemon's listener over real HTTP, billing@1's receiver checks it with
 * `stripe.webhooks.constructEvent`, and the `invoice.paid` trigger starts one run per Stripe
 * event; the same event delivered again (Stripe retries) starts nothing more, and a delivery
 * signed with another secret is refused before anything runs. The Connectors section shows the
 * last event of a connector fed only by webhooks.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConnectorsListRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { billingAccount } from '../helpers/billingServer';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { freePort, invoicePaidEvent, postStripeHook } from '../helpers/webhooks';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'whsec_keel_billing_webhooks_0123456789';
let dirs: TempDirs;
let daemon: Daemon | null = null;
let port: number;
let logs = '';

const RUNBOOK = `apiVersion: keel/v1
name: payment-received
role: Bookkeeper
description: Files every invoice Stripe reports paid.
inputs:
  invoice: { type: string }
  customer: { type: string }
triggers:
  - type: event
    event: invoice.paid
    connector: billing
    inputs:
      invoice: "{{ trigger.event.invoice }}"
      customer: "{{ trigger.event.customerEmail }}"
steps:
  - id: file
    type: connector
    use: fs.outbox@1
    with: { path: "paid/{{ run.id }}.txt", content: "{{ inputs.invoice }} paid by {{ inputs.customer }}" }
`;

/** Stripe's `invoice.paid` event `id` for Dana's invoice `invoice`. */
function invoicePaid(id: string, invoice: string): string {
  return invoicePaidEvent({
    event: id,
    invoice,
    customer: 'cus_1',
    email: 'dana@example.org',
    name: 'Dana',
    number: 'KEEL-0001',
    amount: 124_500,
  });
}

function deliver(body: string, secret = SECRET): Promise<{ status: number; body: string }> {
  return postStripeHook(port, body, secret);
}

beforeEach(async () => {
  logs = '';
  dirs = await makeTempDirs('keel-billing-hooks-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_STRIPE_KEY = 'sk_test_never_sent';
  process.env.KEEL_STRIPE_WEBHOOK = SECRET;
  port = await freePort();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
webhooks: { port: ${port} }
connectors:
${billingAccount({ url: 'http://127.0.0.1:9' })}approvals:
  rules:
    - { path: "outbox/**", allow: [create], events: true }
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'payment-received.yaml'), RUNBOOK);
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'info', write: (line: string) => (logs += line) }),
  });
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_STRIPE_KEY;
  delete process.env.KEEL_STRIPE_WEBHOOK;
  await dirs.cleanup();
});

/** The invoices filed: the event's fields arrive fenced as untrusted data, the id inside. */
async function filed(): Promise<string[]> {
  const dir = join(dirs.workspace, 'outbox', 'paid');
  const names = await readdir(dir).catch(() => []);
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
  return texts.map((t) => /\bin_\w+/.exec(t)?.[0] ?? t).sort();
}

async function runs(): Promise<string[]> {
  const names = await readdir(join(dirs.workspace, '.keel', 'runs')).catch(() => []);
  return names.filter((n) => n.startsWith('payment-received-') && n.endsWith('.jsonl'));
}

it('a signed invoice.paid starts one run per Stripe event; a retry starts none; a forged one is refused', async () => {
  const paid = invoicePaid('evt_paid_1', 'in_1');
  const first = await waitFor('the webhook listener', () => deliver(paid).catch(() => null), 20_000);
  expect(first.status, first.body).toBe(200);
  await waitFor('the invoice filed', async () => (await filed()).includes('in_1') || null, 20_000);

  // Stripe retries a delivery it saw no answer to: the same event starts nothing more.
  expect((await deliver(paid)).status).toBe(200);
  const forged = await deliver(invoicePaid('evt_forged', 'in_forged'), 'whsec_someone_else');
  expect(forged.status).toBe(401);
  expect(forged.body).toMatch(/signature/i);

  expect((await deliver(invoicePaid('evt_paid_2', 'in_2'))).status).toBe(200);
  await waitFor('the second invoice filed', async () => (await filed()).includes('in_2') || null, 20_000);
  expect(await filed()).toEqual(['in_1', 'in_2']);
  expect(logs).not.toMatch(/no connector "billing" in keel.yaml emits/);
  expect(await runs()).toHaveLength(2);

  // The sidebar's Connectors section shows when the last event came, pushed as polled.
  const client = new InProcessClient(daemon!);
  const { connectors } = await client.request(ConnectorsListRequest);
  const billing = connectors.find((c) => c.name === 'billing');
  expect(billing?.lastEventAt).toEqual(expect.any(String));
  expect(billing?.state).not.toBe('error');
});
