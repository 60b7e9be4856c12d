/**
 * Compensation against a real mail server (Dovecot): a run moves a message to Archive and flags
 * it there, then fails; its undos run newest first (the flag restored, the message moved back),
 * journaled and shown in the trace, and the mailbox is as it was. A cancelled run likewise.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  RunCancelRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
  type RunTrace,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { imapSession, listMessages } from '../helpers/mailboxes';
import { mailAccount, startMailServers, type MailServers } from '../helpers/mailServers';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let mail: MailServers;
let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

beforeAll(async () => {
  mail = await startMailServers();
});
afterAll(async () => {
  await mail?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_MAIL_PASSWORD = mail.users.alice!.password;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
${mailAccount(mail, 'alice', { display: 'Alice' })}approvals:
  actions:
    - { action: mail.move, decide: allow }
    - { action: mail.flag, decide: allow }
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_MAIL_PASSWORD;
  await dirs.cleanup();
});

/** A fresh message in alice's INBOX and an Archive folder; resolves with the message's UID. */
async function delivered(subject: string): Promise<number> {
  const imap = await imapSession(mail, 'alice');
  try {
    await imap.mailboxCreate('Archive').catch(() => undefined);
    const raw = `From: bob@keel.test\r\nTo: alice@keel.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@keel.test>\r\n\r\nHello.\r\n`;
    const appended = await imap.append('INBOX', raw, []);
    if (!appended || !appended.uid) throw new Error('the server did not say where the message went');
    return appended.uid;
  } finally {
    await imap.logout();
  }
}

async function runbook(uid: number, last: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'file.yaml'),
    `apiVersion: keel/v1
name: file
role: Tester
description: Files a message away, then fails.
steps:
  - id: archive
    type: connector
    use: mail
    action: move
    with: { folder: INBOX, uid: ${uid}, to: Archive }
  - id: mark
    type: connector
    use: mail
    action: flag
    with: { folder: Archive, uid: "{{ steps.archive.output.uid }}" }
${last}`,
  );
}

async function settled(id: string, status: RunSummary['status'][]): Promise<RunTrace> {
  return waitFor(
    `run ${id} ${status.join('/')}`,
    async () => {
      const trace = await client.request(RunGetRequest, { id });
      return status.includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
}

async function expectBackInInbox(subject: string): Promise<void> {
  const inbox = (await listMessages(mail, 'alice')).filter((m) => m.subject === subject);
  expect(inbox).toHaveLength(1);
  expect(inbox[0]!.flags).not.toContain('\\Flagged');
  expect((await listMessages(mail, 'alice', 'Archive')).filter((m) => m.subject === subject)).toEqual([]);
}

it('a failed run moves the message back and restores its flag, newest first', async () => {
  await runbook(
    await delivered('failing'),
    `  - id: boom
    type: connector
    use: mail
    action: nope
    with: {}
`,
  );
  const { id } = await client.request(RunStartRequest, { runbook: 'file', inputs: {} });
  const trace = await settled(id, ['failed']);
  expect(trace.run.error).toContain('has no action "nope"');
  expect(trace.run.error).not.toContain('needs the operator');
  expect(trace.compensation?.map((l) => [l.stepId, l.action, l.undo, l.outcome])).toEqual([
    ['mark', 'flag', 'flag', 'undone'],
    ['archive', 'move', 'move', 'undone'],
  ]);
  await expectBackInInbox('failing');
});

it('a cancelled run is taken back the same way', async () => {
  await runbook(
    await delivered('cancelled'),
    `  - id: wait
    type: checkpoint
    message: "Keep it archived?"
`,
  );
  const { id } = await client.request(RunStartRequest, { runbook: 'file', inputs: {} });
  await settled(id, ['waiting_operator']);
  expect((await listMessages(mail, 'alice', 'Archive')).map((m) => m.subject)).toContain('cancelled');
  await client.request(RunCancelRequest, { id });
  const trace = await settled(id, ['cancelled']);
  expect(trace.compensation?.map((l) => l.outcome)).toEqual(['undone', 'undone']);
  await expectBackInInbox('cancelled');
});
