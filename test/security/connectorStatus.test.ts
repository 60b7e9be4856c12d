/**
 * A connector credential handed over from the editor's secret storage never shows in what
 * `keel/connectors/list` and `check` answer, in the `keel/connectors/changed` notifications the
 * sidebar renders, or in the daemon's log: neither the right password (probe ok against a real
 * Dovecot and Postfix) nor a wrong one (probe fails with the server's words).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectorsCheckRequest, ConnectorsListRequest, SetConnectorSecretRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let dirs: TempDirs;
let daemon: Daemon | null = null;

beforeAll(async () => {
  [mail, dirs] = await Promise.all([startMailServers({ users: ['alice'] }), makeTempDirs('keel-constatus-')]);
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
});
afterAll(async () => {
  await daemon?.stop('test');
  await mail?.stop();
  await dirs?.cleanup();
});

it('the secret reaches neither list, check, the sidebar notifications nor the log', async () => {
  const alice = mail.users.alice!;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${mailAccount(mail, 'alice', { display: 'Alice', password: '{ secret: true }' })}`,
  );
  let logs = '';
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => (logs += line) }),
  });
  const notified: string[] = [];
  daemon.addNotificationSink((method, params) => notified.push(`${method} ${JSON.stringify(params)}`));
  const client = new InProcessClient(daemon);
  await trust(daemon);

  const before = await client.request(ConnectorsListRequest, {});
  expect(before.connectors[0]).toMatchObject({ state: 'needs_credential', credential: 'password' });

  const answers: unknown[] = [before];
  const wrong = 'not-the-password-5e1f2a';
  await client.request(SetConnectorSecretRequest, {
    connector: 'mail',
    credential: 'password',
    value: wrong,
  });
  const failed = await client.request(ConnectorsCheckRequest, { name: 'mail' });
  expect(failed.connectors[0]).toMatchObject({ state: 'error', lastProbe: { ok: false } });
  answers.push(failed);

  await client.request(SetConnectorSecretRequest, {
    connector: 'mail',
    credential: 'password',
    value: alice.password,
  });
  const ok = await client.request(ConnectorsCheckRequest, {});
  expect(ok.connectors[0]).toMatchObject({ state: 'ready', lastProbe: { ok: true } });
  answers.push(ok, await client.request(ConnectorsListRequest, {}));

  expect(notified.some((n) => n.startsWith('keel/connectors/changed'))).toBe(true);
  for (const secret of [wrong, alice.password]) {
    expect(JSON.stringify(answers)).not.toContain(secret);
    expect(notified.join('\n')).not.toContain(secret);
    expect(logs).not.toContain(secret);
  }
});
