/**
 * Alerts outside the editor through the real daemon and the real Dovecot and Postfix on loopback:
 * keel.yaml's `alerts:` sends a run that escalated to the operator's mailbox once, folds a second
 * one inside `minIntervalMinutes` into a digest sent when the interval ends, re-sends nothing after
 * a restart, and alerts once for an approval left waiting past `approvalWaitingHours`, once for a
 * breaker opened by a runbook whose SMTP server is down (not again while the outage lasts, a
 * restart included), and once for a quota used up.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { simpleParser } from 'mailparser';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalsListRequest,
  ControlStateRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { imapSession, listMessages, waitForMessage } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;
/** Messages in the operator's inbox before the test: the servers serve every test of the file. */
let earlier = new Set<number>();

beforeAll(async () => {
  mail = await startMailServers({ users: ['keel', 'operator', 'bob'] });
});
afterAll(async () => {
  await mail?.stop();
});

/** keel.yaml: Keel's own account as `mail`, alerts to the operator (or `to`). */
function alertsYaml(mailServers: MailServers, alerts: string, to = 'operator@keel.test'): string {
  return `version: 1
connectors:
${mailAccount(mailServers, 'keel', { display: 'Keel' })}alerts:
  to: { connector: mail, action: send, with: { to: [${to}] } }
${alerts}`;
}

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

/** A loopback port nothing listens on: a connection to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Waits out the alert interval: what was folded in it would be mailed by now. */
async function intervalOver(ms: number): Promise<void> {
  // Proving that nothing more is sent needs the interval to pass; no event marks it.
  await new Promise((resolve) => setTimeout(resolve, ms));
  await daemon!.conductor.alertsSettled();
}

/** A runbook whose only step fails for good: the mail account refuses a send to no one. */
async function failingRunbook(name: string, triggers = ''): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1
name: ${name}
role: Tester
description: Fails and escalates.
escalation: { message: "{{ error }}" }
${triggers}steps:
  - id: send
    type: connector
    use: mail
    action: send
    with: { to: not-an-address, subject: x, text: y }
`,
  );
}

async function run(runbook: string): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook, inputs: {} });
  return waitFor(
    `run ${started.id} to end`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return ['succeeded', 'failed'].includes(trace.run.status) ? trace.run : null;
    },
    30_000,
  );
}

/** The subjects in the operator's inbox, after a sentinel proved earlier mail had time to arrive. */
async function operatorSubjects(user = 'operator'): Promise<string[]> {
  const sentinel = `sentinel ${Math.random()}`;
  await mail.deliver({
    from: 'x@example.org',
    to: [mail.users[user]!.address],
    raw: `Subject: ${sentinel}\n\n.\n`,
  });
  await waitForMessage(mail, user, sentinel);
  return (await listMessages(mail, user))
    .filter((m) => !earlier.has(m.uid) && !m.subject.startsWith('sentinel'))
    .map((m) => m.subject);
}

/** The plain-text body of a message in a user's inbox. */
async function bodyOf(user: string, uid: number): Promise<string> {
  const imap = await imapSession(mail, user);
  try {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const message = await imap.fetchOne(String(uid), { source: true }, { uid: true });
      if (!message || !message.source) throw new Error(`no message ${uid} in ${user}'s INBOX`);
      return (await simpleParser(message.source)).text ?? '';
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

beforeEach(async () => {
  dirs = await makeTempDirs('keel-alerts-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_MAIL_PASSWORD = mail.users.keel!.password;
  await initWorkspace(dirs.workspace);
  earlier = new Set((await listMessages(mail, 'operator')).map((m) => m.uid));
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_MAIL_PASSWORD;
  await dirs.cleanup();
});

describe('alerts', () => {
  it('an escalation is mailed once; a second within the interval comes as a digest; a restart re-sends nothing', async () => {
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      alertsYaml(mail, '  on: [escalation]\n  minIntervalMinutes: 0.05\n'),
    );
    await failingRunbook('breaks');
    await start();
    const first = await run('breaks');
    expect(first.status).toBe('failed');
    const alert = await waitForMessage(mail, 'operator', 'Keel: breaks escalated to you');
    expect(alert.subject).toBe('Keel: breaks escalated to you');

    const second = await run('breaks');
    expect(second.status).toBe('failed');
    const digest = await waitForMessage(mail, 'operator', 'Keel: 1 more escalation(s)');
    expect(digest).toBeTruthy();
    expect(await operatorSubjects()).toEqual(['Keel: breaks escalated to you', 'Keel: 1 more escalation(s)']);

    await daemon!.stop('restart');
    await start();
    await daemon!.conductor.alertsSettled();
    expect(await operatorSubjects()).toEqual(['Keel: breaks escalated to you', 'Keel: 1 more escalation(s)']);
  });

  it('a triggered run that fails is mailed once, as a triggered run', async () => {
    await writeFile(join(dirs.workspace, 'keel.yaml'), alertsYaml(mail, ''));
    await failingRunbook('watcher', 'triggers:\n  - { type: fileChanged, paths: ["inbox/*.md"] }\n');
    await start();
    await daemon!.conductor.triggers()!.settled();
    await mkdir(join(dirs.workspace, 'inbox'), { recursive: true });
    await writeFile(join(dirs.workspace, 'inbox', 'a.md'), 'new\n');
    await waitForMessage(mail, 'operator', 'Keel: triggered run of watcher failed');
    expect(await operatorSubjects()).toEqual(['Keel: triggered run of watcher failed']);
  });

  it('an approval waiting past approvalWaitingHours is mailed once, naming it and how to decide', async () => {
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      alertsYaml(mail, '  on: [approvalWaiting]\n  approvalWaitingHours: 0.0005\n'),
    );
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
    with: { to: bob@keel.test, subject: hello, text: "Hi Bob" }
`,
    );
    await start();
    const started = await client.request(RunStartRequest, { runbook: 'asks', inputs: {} });
    const waiting = await waitFor('the approval', async () => {
      const { approvals } = await client.request(ApprovalsListRequest, {});
      return approvals.find((a) => a.runId === started.id && a.status === 'pending') ?? null;
    });
    const alert = await waitForMessage(mail, 'operator', 'Keel: approval waiting for asks');
    expect(alert.subject).toBe('Keel: approval waiting for asks');
    // The timer keeps looking: still one alert for this approval.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await operatorSubjects()).toEqual(['Keel: approval waiting for asks']);
    expect(await bodyOf('operator', alert.uid)).toContain(`keel approve ${waiting.id}`);
  });
  it('a breaker that opens is mailed once, not again while the outage lasts, a restart included', async () => {
    const smtpDown = await closedPort();
    await writeFile(
      join(dirs.workspace, 'keel.yaml'),
      alertsYaml(mail, '  on: [breakerOpened]\n  minIntervalMinutes: 0.03\n').replace(
        'alerts:',
        `  outbound:
    use: email@1
    imap: { host: ${mail.imap.host}, port: ${mail.imap.port}, secure: false }
    smtp: { host: 127.0.0.1, port: ${smtpDown}, secure: false }
    user: ${mail.users.keel!.address}
    from: Keel <${mail.users.keel!.address}>
    credentials: { password: { env: KEEL_MAIL_PASSWORD } }
approvals:
  actions:
    - { action: outbound.send, decide: allow }
breakers: { runFailures: 2, coolDownSeconds: 0.3 }
alerts:`,
      ),
    );
    await writeFile(
      join(dirs.workspace, 'runbooks', 'flaky.yaml'),
      `apiVersion: keel/v1
name: flaky
role: Tester
description: Sends through a mail server that is down.
steps:
  - id: send
    type: connector
    use: outbound
    action: send
    with: { to: bob@keel.test, subject: hello, text: "Hi Bob" }
`,
    );
    const breaker = async (state: string): Promise<boolean> =>
      (await client.request(ControlStateRequest)).breakers.some(
        (b) => b.name === 'runbook:flaky' && b.state === state,
      );
    await start();
    expect((await run('flaky')).status).toBe('failed');
    expect((await run('flaky')).status).toBe('failed');
    expect(await breaker('open')).toBe(true);
    await waitForMessage(mail, 'operator', 'Keel: circuit breaker opened for runbook flaky');

    // The cool-down ends, the trial run fails: the breaker opens again, in the same outage.
    await waitFor('the breaker to let a trial through', () => breaker('half_open'));
    expect((await run('flaky')).status).toBe('failed');
    expect(await breaker('open')).toBe(true);
    // A restart forgets breakers; the runbook keeps failing and opens its breaker once more.
    await daemon!.stop('restart');
    await start();
    expect((await run('flaky')).status).toBe('failed');
    expect((await run('flaky')).status).toBe('failed');
    expect(await breaker('open')).toBe(true);
    await intervalOver(2_500);
    expect(await operatorSubjects()).toEqual(['Keel: circuit breaker opened for runbook flaky']);
  });

  it('a quota used up is mailed once, and not again after a restart', async () => {
    const model = await ModelServer.start();
    try {
      model.respondWith(() => ({ content: 'Spent.', usage: { prompt_tokens: 200, completion_tokens: 100 } }));
      await writeFile(
        join(dirs.workspace, 'keel.yaml'),
        alertsYaml(mail, '  on: [quotaHit]\n  minIntervalMinutes: 0.03\n').replace(
          'alerts:',
          `models:
  endpoint: { baseUrl: ${model.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1000, outputUsdPerMTok: 1000 }
quotas:
  - { agent: spender, period: day, maxUsd: 0.1 }
alerts:`,
        ),
      );
      await writeFile(
        join(dirs.workspace, 'runbooks', 'spender.yaml'),
        `apiVersion: keel/v1
name: spender
role: Tester
description: One model call that costs more than the quota.
steps:
  - id: answer
    type: llm
    prompt: Say something.
    maxOutputTokens: 100
`,
      );
      await start();
      expect((await run('spender')).status).toBe('succeeded');
      await waitForMessage(mail, 'operator', 'Keel: daily quota of spender used up');
      await expect(client.request(RunStartRequest, { runbook: 'spender', inputs: {} })).rejects.toThrow(
        /quota/,
      );
      await daemon!.stop('restart');
      await start();
      await intervalOver(2_500);
      expect(await operatorSubjects()).toEqual(['Keel: daily quota of spender used up']);
    } finally {
      await model.close();
    }
  });
});
