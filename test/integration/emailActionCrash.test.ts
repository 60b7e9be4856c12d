/**
 * Exactly once across `kill -9` for email@1's `move` and `flag`, against the real Dovecot: the
 * daemon process sends the IMAP command, Dovecot carries it out, and its answer never reaches the
 * daemon (a loopback relay stops passing the server's words once it saw the command); the daemon
 * is killed between the action's intent and its result and started again. The connector asks
 * the server (`find`: the message by Message-ID in the target folder, the flag as set) and the run
 * finishes without moving or flagging again, where before the operator had to take it over.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { killAfterServerActed } from '../helpers/crashDaemon';
import { imapSession, listMessages, waitForMessage } from '../helpers/mailboxes';
import { startMailServers, type MailServers } from '../helpers/mailServers';
import { mutingRelay, type MutingRelay } from '../helpers/mutingRelay';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const PASSWORD_VARIABLE = 'KEEL_CRASH_MAIL_PASSWORD';

let mail: MailServers;
let dirs: TempDirs;
let relay: MutingRelay;

beforeAll(async () => {
  mail = await startMailServers();
});
afterAll(async () => {
  await mail?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs('keel-mail-crash-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[PASSWORD_VARIABLE] = mail.users.alice!.password;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await relay?.close();
  delete process.env[PASSWORD_VARIABLE];
  await dirs.cleanup();
});

/** A fresh message in alice's INBOX (and an Archive folder); resolves with its UID. */
async function deliverOne(messageId: string): Promise<number> {
  const imap = await imapSession(mail, 'alice');
  try {
    await imap.mailboxCreate('Archive').catch(() => undefined);
  } finally {
    await imap.logout();
  }
  await mail.deliver({
    from: 'dana@example.org',
    to: [mail.users.alice!.address],
    raw: `From: dana@example.org\nTo: ${mail.users.alice!.address}\nSubject: ${messageId}\nMessage-ID: ${messageId}\n\nHello.\n`,
  });
  return (await waitForMessage(mail, 'alice', messageId)).uid;
}

async function workspaceFor(step: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  mail:
    use: email@1
    imap: { host: 127.0.0.1, port: ${relay.port}, secure: false }
    smtp: { host: ${mail.smtp.host}, port: ${mail.smtp.port}, secure: false }
    user: ${mail.users.alice!.address}
    from: Alice <${mail.users.alice!.address}>
    credentials: { password: { env: ${PASSWORD_VARIABLE} } }
approvals:
  actions:
    - { action: "mail.*", decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'tidy.yaml'),
    `apiVersion: keel/v1\nname: tidy\nrole: Tester\ndescription: Killed in the middle of.\nsteps:\n${step}`,
  );
}

/** Starts `tidy` and kills the daemon once the server did what `done` checks; the run as it ended. */
function killAfterServerActedOn(done: () => Promise<boolean>): Promise<RunSummary> {
  return killAfterServerActed(
    dirs,
    'tidy',
    'the server to act on the muted command',
    async () => relay.muted() && (await done()),
  );
}

it('a move cut off by kill -9 is found in the target folder: the run finishes, the message moved once', async () => {
  const messageId = `<crash-move-${Date.now()}@example.org>`;
  const uid = await deliverOne(messageId);
  relay = await mutingRelay(mail.imap, / MOVE /i);
  await workspaceFor(`  - id: archive
    type: connector
    use: mail
    action: move
    with: { folder: INBOX, uid: ${uid}, to: Archive, messageId: ${JSON.stringify(messageId)} }
`);
  const inArchive = async (): Promise<number> =>
    (await listMessages(mail, 'alice', 'Archive')).filter((m) => m.messageId === messageId).length;
  const run = await killAfterServerActedOn(async () => (await inArchive()) > 0);
  expect(run.status, run.error ?? '').toBe('succeeded');
  expect(await inArchive()).toBe(1);
  expect((await listMessages(mail, 'alice')).filter((m) => m.messageId === messageId)).toEqual([]);
}, 180_000);

it('a flag cut off by kill -9 is found set: the run finishes without asking the operator', async () => {
  const messageId = `<crash-flag-${Date.now()}@example.org>`;
  const uid = await deliverOne(messageId);
  relay = await mutingRelay(mail.imap, / STORE /i);
  await workspaceFor(`  - id: flag
    type: connector
    use: mail
    action: flag
    with: { folder: INBOX, uid: ${uid}, flag: "\\\\Flagged" }
`);
  const flagged = async (): Promise<boolean> =>
    (await listMessages(mail, 'alice')).some((m) => m.uid === uid && m.flags.includes('\\Flagged'));
  const run = await killAfterServerActedOn(flagged);
  expect(run.status, run.error ?? '').toBe('succeeded');
  expect(await flagged()).toBe(true);
}, 180_000);
