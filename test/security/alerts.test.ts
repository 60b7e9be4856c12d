/**
 * Alerts send mail on the operator's behalf without a proposal, so what may send them is guarded:
 * a `git pull` that points `alerts.to` somewhere else stops every alert until the operator trusts
 * the workspace again (the alert waits, then goes where they agreed), and a `.keel/alerts.json`
 * planted in a cloned workspace (a queued "alert" with the attacker's text) is quarantined, never
 * sent, not even after trust. Real Dovecot and Postfix on loopback.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { ApprovalsListRequest, describeWants, RunStartRequest, TrustStateRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { listMessages, waitForMessage } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

beforeAll(async () => {
  mail = await startMailServers({ users: ['keel', 'operator', 'mallory'] });
});
afterAll(async () => {
  await mail?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs('keel-alerts-sec-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_MAIL_PASSWORD = mail.users.keel!.password;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_MAIL_PASSWORD;
  await dirs.cleanup();
});

function keelYaml(to: string, hours: number): string {
  return `version: 1
connectors:
${mailAccount(mail, 'keel', { display: 'Keel' })}alerts:
  to: { connector: mail, action: send, with: { to: [${to}] } }
  on: [approvalWaiting]
  approvalWaitingHours: ${hours}
`;
}

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
}

/** A user's alert subjects, after a sentinel proved earlier mail had time to arrive. */
async function alertsOf(user: string, since: Set<number>): Promise<string[]> {
  const sentinel = `sentinel ${Math.random()}`;
  await mail.deliver({
    from: 'x@example.org',
    to: [mail.users[user]!.address],
    raw: `Subject: ${sentinel}\n\n.\n`,
  });
  await waitForMessage(mail, user, sentinel);
  return (await listMessages(mail, user))
    .filter((m) => !since.has(m.uid) && !m.subject.startsWith('sentinel'))
    .map((m) => m.subject);
}

async function uids(user: string): Promise<Set<number>> {
  return new Set((await listMessages(mail, user)).map((m) => m.uid));
}

it('a pulled keel.yaml that sends alerts elsewhere sends nothing until the operator trusts it again', async () => {
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml('operator@keel.test', 100));
  await writeFile(
    join(dirs.workspace, 'runbooks', 'asks.yaml'),
    `apiVersion: keel/v1
name: asks
role: Tester
description: Proposes an email and waits.
steps:
  - id: send
    type: connector
    use: mail
    action: send
    with: { to: operator@keel.test, subject: hello, text: "Hi" }
`,
  );
  const [operatorBefore, malloryBefore] = [await uids('operator'), await uids('mallory')];
  await start();
  const granted = await trust(daemon!);
  expect(describeWants(granted).join('\n')).toContain(
    'Send alerts (approvalWaiting) through the connector action mail.send with {"to":["operator@keel.test"]}',
  );
  const started = await client.request(RunStartRequest, { runbook: 'asks', inputs: {} });
  await waitFor('the approval', async () => {
    const { approvals } = await client.request(ApprovalsListRequest, {});
    return approvals.find((a) => a.runId === started.id && a.status === 'pending') ?? null;
  });

  // The pull: alerts now go to mallory, and the approval is overdue at once.
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml('mallory@keel.test', 0.0002));
  const asked = await waitFor('trust to be asked again', async () => {
    const state = await client.request(TrustStateRequest, {});
    return state.trusted ? null : state;
  });
  expect(asked.rules.some((rule) => rule.includes('mallory@keel.test'))).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await daemon!.conductor.alertsSettled();
  expect(await alertsOf('mallory', malloryBefore)).toEqual([]);
  expect(await alertsOf('operator', operatorBefore)).toEqual([]);

  // The operator reviews and agrees: the alert that waited goes where they agreed, once.
  await trust(daemon!);
  await waitForMessage(mail, 'mallory', 'Keel: approval waiting for asks');
  expect(await alertsOf('mallory', malloryBefore)).toEqual(['Keel: approval waiting for asks']);
});

it('a .keel/alerts.json planted in a cloned workspace is quarantined and its queued alert never sent', async () => {
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml('operator@keel.test', 100));
  await mkdir(join(dirs.workspace, '.keel'), { recursive: true });
  await writeFile(
    join(dirs.workspace, '.keel', 'alerts.json'),
    JSON.stringify({
      version: 1,
      sent: {},
      lastSent: {},
      folded: {},
      outbox: [
        {
          key: 'alert:escalation:x',
          kind: 'escalation',
          subject: 'Keel: urgent, wire money',
          text: 'to mallory',
        },
      ],
      triggeredRuns: [],
      seal: '0'.repeat(64),
    }),
  );
  const before = await uids('operator');
  await start();
  await trust(daemon!);
  await daemon!.conductor.alertsSettled();
  expect(await alertsOf('operator', before)).toEqual([]);
  const quarantined = await readdir(join(dirs.workspace, '.keel', 'quarantine'), { recursive: true });
  expect(quarantined.some((name) => String(name).includes('alerts.json'))).toBe(true);
});
