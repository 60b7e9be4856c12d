/**
 * The webhook listener refuses what it must and cannot be stalled: a forged signature (401), a
 * valid signature replayed outside the window (409), a body that is not JSON (400), an unknown
 * instance (404), a huge body (413); a slow client (slowloris headers, a body that never ends) is
 * cut off while other deliveries are answered at once; a taken port is an error naming keel.yaml;
 * and a workspace the operator has not trusted does not listen at all.
 */
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { WorkspaceConfig, WebhooksConfig } from '@keel/schemas';
import { ConnectorSecrets } from '../../daemon/src/connectors/credentials';
import { ConnectorRegistry, type ConnectorInstance } from '../../daemon/src/connectors/registry';
import { WebhookListener } from '../../daemon/src/connectors/webhooks/webhookListener';
import { connectorContext } from '../../daemon/src/connectors/workspaceConnectors';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { freePort, postHook } from '../helpers/webhooks';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'whsec-security-8c2d71e0b9';
let listener: WebhookListener;
/** A listener of the `shop` receiver with these settings. */
let listening: (config: WebhooksConfig) => Promise<WebhookListener>;
let instance: ConnectorInstance;
const delivered: { name: string; id: string; payload: unknown }[] = [];
const log = createLogger({ level: 'error', write: () => undefined });

beforeAll(async () => {
  const config = WorkspaceConfig.parse({
    version: 1,
    connectors: {
      shop: { use: 'http@1', webhook: {}, credentials: { webhookSecret: { env: 'KEEL_TEST_HOOK_SECRET' } } },
    },
  });
  instance = new ConnectorRegistry().instances(config).instances.find((i) => i.name === 'shop')!;
  const deps = {
    workspace: '/nonexistent',
    secrets: new ConnectorSecrets(),
    env: { KEEL_TEST_HOOK_SECRET: SECRET },
    redact: () => undefined,
    trust: { allows: () => true },
  };
  listening = (config) =>
    WebhookListener.start({
      config,
      log,
      receiver: (name) => (name === 'shop' ? instance : null),
      context: (i, signal) => connectorContext(i, deps, signal),
      deliver: (_i, events) => Promise.resolve(delivered.push(...events)),
    });
  listener = await listening(
    WebhooksConfig.parse({ port: await freePort(), timeoutSeconds: 1, maxBodyBytes: 4096 }),
  );
});
afterAll(async () => {
  await listener?.close();
});

const body = JSON.stringify({ id: 'evt_sec_1', type: 'order.paid' });

it('accepts a signed delivery and refuses forged, stale, future, unsigned and non-JSON ones', async () => {
  expect((await postHook(listener.port, 'shop', body, { secret: SECRET })).status).toBe(200);
  expect(delivered.map((e) => e.id)).toEqual(['evt_sec_1']);
  const now = Math.floor(Date.now() / 1000);
  const refused = [
    await postHook(listener.port, 'shop', body, { secret: 'whsec-not-the-secret' }),
    await postHook(listener.port, 'shop', body),
    await postHook(listener.port, 'shop', body, { signature: `t=${now},v1=${'0'.repeat(64)}` }),
    await postHook(listener.port, 'shop', body, { secret: SECRET, timestamp: now - 301 }),
    await postHook(listener.port, 'shop', body, { secret: SECRET, timestamp: now + 3600 }),
    await postHook(listener.port, 'shop', 'not json', { secret: SECRET }),
    await postHook(listener.port, 'nobody', body, { secret: SECRET }),
  ];
  expect(refused.map((r) => r.status)).toEqual([401, 401, 401, 409, 409, 400, 404]);
  expect(refused[3]!.body).toMatch(/outside the 300 s window/);
  // A signature over another body (a tampered delivery) is refused too.
  const tampered = await postHook(listener.port, 'shop', body.replace('paid', 'refunded'), {
    signature: (await import('../../daemon/src/connectors/http/webhook')).signWebhook(SECRET, now, body),
  });
  expect(tampered.status).toBe(401);
  expect(delivered).toHaveLength(1);
});

it('answers 413 to a huge body, declared or streamed, without reading it', async () => {
  const huge = JSON.stringify({ id: 'big', pad: 'x'.repeat(10_000) });
  expect((await postHook(listener.port, 'shop', huge, { secret: SECRET })).status).toBe(413);
  const streamed = await rawExchange(
    `POST /hooks/shop HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2710\r\n${'x'.repeat(10_000)}\r\n`,
  );
  expect(streamed).toMatch(/^HTTP\/1\.1 413/);
});

it('cuts off slow clients while answering other deliveries at once', async () => {
  const slowHeaders = await openSocket();
  slowHeaders.write('POST /hooks/shop HTTP/1.1\r\nHost: x\r\n');
  const slowBody = await openSocket();
  slowBody.write('POST /hooks/shop HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id":');
  const started = Date.now();
  const fresh = JSON.stringify({ id: 'evt_sec_2' });
  expect((await postHook(listener.port, 'shop', fresh, { secret: SECRET })).status).toBe(200);
  expect(Date.now() - started).toBeLessThan(1000);
  await waitFor('the slow clients cut off', () => slowHeaders.destroyed && slowBody.destroyed, 5000);
  expect(Date.now() - started).toBeLessThan(5000);
});

it('holds at most 32 half-sent bodies at once: a flood of connections is refused at the door', async () => {
  // Keel's defaults: a megabyte per body, ten seconds before a slow client is cut off.
  const roomy = await listening(WebhooksConfig.parse({ port: await freePort() }));
  const flood: Socket[] = [];
  let closed = 0;
  try {
    for (let i = 0; i < 120; i++) {
      const socket = connect(roomy.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => closed++);
      socket.resume();
      // Each would hold most of a megabyte: headers, then part of the body, then nothing more.
      socket.write('POST /hooks/shop HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
      socket.write('x'.repeat(500_000));
      flood.push(socket);
    }
    // Well before the ten seconds that would cut the slow ones off.
    await waitFor('the connections past the limit closed', () => closed >= 120 - 32, 5000);
    expect(closed).toBeLessThan(120);
  } finally {
    for (const socket of flood) socket.destroy();
  }
  // Once they are gone, deliveries are answered as before.
  const fresh = JSON.stringify({ id: 'evt_after_flood' });
  const after = await waitFor(
    'a delivery after the flood',
    async () => {
      const got = await postHook(roomy.port, 'shop', fresh, { secret: SECRET }).catch(() => null);
      return got?.status === 200 ? got : null;
    },
    5000,
  );
  expect(after.status).toBe(200);
  await roomy.close();
});

it('a signed delivery sent again under new delivery-id headers keeps one event id (the header is not signed)', async () => {
  const timestamp = Math.floor(Date.now() / 1000);
  const withoutId = JSON.stringify({ type: 'order.paid', order: 'R-1' });
  const withId = JSON.stringify({ id: 'evt_replayed', type: 'order.paid' });
  const before = delivered.length;
  for (const [i, payload] of [withoutId, withoutId, withId, withId].entries()) {
    const headers = { 'x-keel-event-id': `forged-${i}` };
    expect(
      (await postHook(listener.port, 'shop', payload, { secret: SECRET, timestamp, headers })).status,
    ).toBe(200);
  }
  const ids = delivered.slice(before).map((e) => e.id);
  expect(ids).toHaveLength(4);
  expect(ids[0]).toBe(ids[1]);
  expect(ids.slice(2)).toEqual(['evt_replayed', 'evt_replayed']);
  // The header is kept for the record, as sent.
  expect(delivered.at(-1)?.payload).toMatchObject({ deliveryId: 'forged-3' });
});

it('a taken port is an error that names keel.yaml', async () => {
  await expect(
    WebhookListener.start({
      config: WebhooksConfig.parse({ port: listener.port }),
      log,
      receiver: () => null,
      context: () => {
        throw new Error('unused');
      },
      deliver: () => Promise.resolve(),
    }),
  ).rejects.toThrow(/port is in use; choose another webhooks\.port in keel\.yaml/);
});

let dirs: TempDirs | null = null;
let daemon: Daemon | null = null;
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs?.cleanup();
  dirs = null;
});

it('an untrusted workspace does not listen; once trusted it does, and a stopped daemon no longer does', async () => {
  dirs = await makeTempDirs('keel-webhooks-trust-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_TEST_HOOK_SECRET = SECRET;
  const port = await freePort();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
webhooks: { port: ${port} }
connectors:
  shop:
    use: http@1
    webhook: {}
    credentials: { webhookSecret: { env: KEEL_TEST_HOOK_SECRET } }
`,
  );
  daemon = await Daemon.start({ workspace: dirs.workspace, mode: 'daemon', log });
  // Give it the time it takes a trusted one to listen (see below): still nothing.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await expect(postHook(port, 'shop', body, { secret: SECRET })).rejects.toThrow(/ECONNREFUSED/);
  const state = await trust(daemon);
  expect(state.endpoints).toContainEqual({
    purpose: 'webhooks',
    origin: `http://127.0.0.1:${port}`,
    apiKeyEnv: null,
  });
  const accepted = await waitFor(
    'the listener',
    () => postHook(port, 'shop', body, { secret: SECRET }).catch(() => null),
    10_000,
  );
  expect(accepted.status).toBe(200);
  await daemon.stop('test');
  daemon = null;
  await expect(postHook(port, 'shop', body, { secret: SECRET })).rejects.toThrow(/ECONNREFUSED/);
  delete process.env.KEEL_TEST_HOOK_SECRET;
});

function openSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(listener.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
    socket.on('close', () => socket.destroy());
  });
}

/** Writes `raw` and resolves with what the server answered before closing. */
async function rawExchange(raw: string): Promise<string> {
  const socket = await openSocket();
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', () => undefined);
  socket.write(raw);
  await new Promise((resolve) => socket.on('close', resolve));
  return answer;
}
