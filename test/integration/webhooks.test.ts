/**
 * Webhook deliveries through a real daemon process: a signed delivery to http@1's receiver starts
 * one run of the runbook whose `http.webhook` trigger matches; the same delivery again, and again
 * after a kill -9 and restart, is accepted but starts nothing more; a delivery of another type
 * that the filter does not pass starts nothing.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { freePort, postHook } from '../helpers/webhooks';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'whsec-integration-0123456789';
let dirs: TempDirs;
let daemon: RunningDaemon | null = null;
let port: number;

const RUNBOOK = `apiVersion: keel/v1
name: paid
role: Bookkeeper
description: Files every paid order a shop reports.
inputs:
  order: { type: string }
triggers:
  - type: event
    event: http.webhook
    connector: shop
    filter:
      type: { equals: order.paid }
    inputs:
      order: "{{ trigger.event.body.order }}"
steps:
  - id: file
    type: connector
    use: fs.outbox@1
    with: { path: "orders/{{ inputs.order }}.txt", content: "paid" }
`;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-webhooks-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_TEST_WEBHOOK_SECRET = SECRET;
  port = await freePort();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
webhooks: { port: ${port} }
connectors:
  shop:
    use: http@1
    webhook: {}
    credentials: { webhookSecret: { env: KEEL_TEST_WEBHOOK_SECRET } }
approvals:
  rules:
    - { path: "outbox/**", allow: [create], events: true }
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks', 'paid.yaml'), RUNBOOK);
});
afterEach(async () => {
  daemon?.process.kill('SIGKILL');
  if (daemon) await daemon.exited;
  daemon = null;
  delete process.env.KEEL_TEST_WEBHOOK_SECRET;
  await dirs.cleanup();
});

async function runs(): Promise<string[]> {
  const names = await readdir(join(dirs.workspace, '.keel', 'runs')).catch(() => []);
  return names.filter((n) => /^paid-event-.*\.jsonl$/.test(n));
}

async function outbox(): Promise<string[]> {
  return readdir(join(dirs.workspace, 'outbox', 'orders')).catch(() => []);
}

/** Delivers until the listener answers (it starts once the conductor is open). */
async function deliverWhenListening(body: string): Promise<{ status: number; body: string }> {
  return waitFor(
    'the webhook listener',
    () => postHook(port, 'shop', body, { secret: SECRET }).catch(() => null),
    20_000,
  );
}

it(
  'a delivery starts one run; the same delivery again, also after a restart, starts none',
  { timeout: 120_000 },
  async () => {
    expect((await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime })).code).toBe(0);
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const delivery = JSON.stringify({ id: 'evt_1', type: 'order.paid', order: 'A-1001' });
    const first = await deliverWhenListening(delivery);
    expect(first.status, first.body).toBe(200);
    await waitFor('the order filed', async () => (await outbox()).includes('A-1001.txt'), 20_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${first.body}\n${daemon?.output() ?? ''}`);
      },
    );
    expect(await runs()).toHaveLength(1);

    const again = await postHook(port, 'shop', delivery, { secret: SECRET });
    expect(again.status).toBe(200);
    // Not filtered in: no run, but accepted (the sender must stop retrying).
    const other = await postHook(
      port,
      'shop',
      JSON.stringify({ id: 'evt_2', type: 'order.refunded', order: 'B' }),
      {
        secret: SECRET,
      },
    );
    expect(other.status).toBe(200);
    expect(await runs()).toHaveLength(1);

    daemon.process.kill('SIGKILL');
    await daemon.exited;
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const afterRestart = await deliverWhenListening(delivery);
    expect(afterRestart.status, afterRestart.body).toBe(200);
    const fresh = await postHook(
      port,
      'shop',
      JSON.stringify({ id: 'evt_3', type: 'order.paid', order: 'C-3' }),
      {
        secret: SECRET,
      },
    );
    expect(fresh.status).toBe(200);
    await waitFor('the new order filed', async () => (await outbox()).includes('C-3.txt'), 20_000);
    expect((await runs()).length).toBe(2);
    expect((await outbox()).sort()).toEqual(['A-1001.txt', 'C-3.txt']);
  },
);
