/**
 * Drift probes and what a hostile server says: a probe whose failure detail and version echo the
 * credential and carry terminal escapes, line breaks and 10,000 characters shows neither the
 * credential (in check answers, notifications, the breaker's reason, the refusal, .keel/probes.json)
 * nor any control character, and its version is bounded; a probes.json planted by a cloned
 * repository (no valid seal) neither opens nor closes a breaker.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectorsCheckRequest, ConnectorsListRequest, ControlStateRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import type { Connector } from '../../daemon/src/connectors/sdk';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET = 'hostile-probe-secret-8c1d';
const VARIABLE = 'KEEL_HOSTILE_PROBE_TOKEN';
// eslint-disable-next-line no-control-regex -- the test looks for control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/;

/** A server that answers the probe with its own words: the credential echoed, escapes, floods. */
const hostile: Connector = {
  id: 'hostile@1',
  description: 'A connector whose server answers probes with hostile text (test).',
  configSchema: z.strictObject({ fail: z.boolean() }),
  credentials: ['token'],
  actions: {},
  events: {},
  probe: (ctx) => {
    const token = ctx.credential('token');
    const words = `\u001b[2J\u001b]8;;http://evil.example\u0007click\r\nX-Injected: ${token}\u202e${'A'.repeat(10_000)}`;
    return Promise.resolve({
      ok: !ctx.config.fail,
      detail: `server said: ${words}`,
      version: `Evil/1.0 ${words}`,
      checkedAt: new Date().toISOString(),
    });
  },
};

let dirs: TempDirs;
let daemon: Daemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-probe-security-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[VARIABLE] = SECRET;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env[VARIABLE];
  await dirs.cleanup();
});

async function start(fail: boolean): Promise<InProcessClient> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nconnectors:\n  evil:\n    use: hostile@1\n    fail: ${fail}\n    probeMinutes: 0\n    credentials: { token: { env: ${VARIABLE} } }\n`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error', write: () => undefined }),
    connectors: [hostile],
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  return client;
}

it('a hostile failure detail and version reach nobody with the credential or control characters', async () => {
  const client = await start(true);
  const notified: string[] = [];
  daemon!.addNotificationSink((method, params) => notified.push(`${method} ${JSON.stringify(params)}`));
  const { connectors } = await client.request(ConnectorsCheckRequest, { name: 'evil' });
  const evil = connectors[0]!;
  expect(evil.breaker).toBe('open');
  expect(evil.lastProbe!.detail).toContain('[redacted]');
  expect(evil.lastProbe!.detail).not.toMatch(CONTROL);
  expect(evil.lastProbe!.detail.length).toBeLessThanOrEqual(2_000);
  expect(evil.lastProbe!.version!.length).toBeLessThanOrEqual(200);
  expect(evil.lastProbe!.version).toMatch(/^Evil\/1\.0 /);
  expect(evil.lastProbe!.version).not.toMatch(CONTROL);
  const control = await client.request(ControlStateRequest, {});
  const breaker = control.breakers.find((b) => b.name === 'connector:evil');
  expect(breaker?.state).toBe('open');
  expect(breaker?.reason).not.toMatch(CONTROL);
  const refusal = daemon!.connectorStatus.refusal(
    daemon!.connectorInstances().find((i) => i.name === 'evil')!,
  );
  expect(refusal).toContain('keel connectors check evil');
  const stored = await readFile(join(dirs.workspace, '.keel', 'probes.json'), 'utf8');
  for (const text of [JSON.stringify(connectors), JSON.stringify(control), refusal, stored, ...notified]) {
    expect(text).not.toContain(SECRET);
  }
});

it('a planted probes.json is not believed: it neither opens nor closes a breaker', async () => {
  const client = await start(true);
  await client.request(ConnectorsCheckRequest, { name: 'evil' });
  await daemon!.stop('restart');
  const path = join(dirs.workspace, '.keel', 'probes.json');
  const real = JSON.parse(await readFile(path, 'utf8')) as {
    records: Record<string, { probe: { ok: boolean } }>;
  };
  real.records.evil!.probe.ok = true;
  await writeFile(path, JSON.stringify(real));
  const again = await start(true);
  const { connectors } = await again.request(ConnectorsListRequest, {});
  // Not believed: the instance counts as never probed (no breaker either way) until probed again.
  expect(connectors[0]).toMatchObject({ lastProbe: null, breaker: 'closed' });
  expect(await readdir(join(dirs.workspace, '.keel', 'quarantine'))).not.toEqual([]);
});
