/**
 * Looking into the test mail servers' mailboxes as a user would, over IMAP: what a folder holds,
 * waiting for a message to arrive, and renumbering a folder (a new UIDVALIDITY).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import type { MailServers } from './mailServers';

const run = promisify(execFile);

export interface StoredMessage {
  uid: number;
  messageId: string | null;
  subject: string;
  flags: string[];
}

/** The messages in a user's folder, read over IMAP as that user (oldest first). */
export async function listMessages(
  servers: MailServers,
  user: string,
  folder = 'INBOX',
): Promise<StoredMessage[]> {
  const imap = await imapSession(servers, user);
  try {
    const lock = await imap.getMailboxLock(folder);
    try {
      const exists = imap.mailbox ? imap.mailbox.exists : 0;
      if (exists === 0) return [];
      const messages = await imap.fetchAll('1:*', { uid: true, envelope: true, flags: true });
      return messages.map((message) => ({
        uid: message.uid,
        messageId: message.envelope?.messageId ?? null,
        subject: message.envelope?.subject ?? '',
        flags: [...(message.flags ?? [])],
      }));
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

/** A logged-in IMAP session as `user` (the caller logs out). */
export async function imapSession(servers: MailServers, user: string): Promise<ImapFlow> {
  const account = servers.users[user];
  if (!account) throw new Error(`No mail user "${user}" (have ${Object.keys(servers.users).join(', ')})`);
  const imap = new ImapFlow({
    host: servers.imap.host,
    port: servers.imap.port,
    secure: false,
    auth: { user: account.address, pass: account.password },
    logger: false,
    disableAutoIdle: true,
  });
  await imap.connect();
  return imap;
}

/**
 * Gives a folder a new UIDVALIDITY, as a server does when it rebuilds or recreates the folder
 * (Dovecot's `doveadm mailbox update`, run against this instance's config).
 */
export async function changeUidValidity(servers: MailServers, user: string, folder: string, value: number) {
  const account = servers.users[user];
  if (!account) throw new Error(`No mail user "${user}"`);
  const config = join(servers.root, 'dovecot', 'dovecot.conf');
  await run('/usr/bin/doveadm', [
    '-c',
    config,
    'mailbox',
    'update',
    '-u',
    account.address,
    '--uid-validity',
    String(value),
    folder,
  ]);
}

/** Waits until `user`'s folder holds a message whose Message-ID or subject is `match`. */
export async function waitForMessage(
  servers: MailServers,
  user: string,
  match: string,
  folder = 'INBOX',
): Promise<StoredMessage> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = (await listMessages(servers, user, folder)).find(
      (message) => message.messageId === match || message.subject === match,
    );
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`No message "${match}" in ${user}'s ${folder} after 20 s\n${await servers.logs()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
