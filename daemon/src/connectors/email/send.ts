/**
 * `email.send`, exactly once per idempotency key. The Message-ID is derived from the key, so every
 * attempt for one key is the same message, and the Sent folder is the record of what was sent:
 *
 *   1. search Sent for the Message-ID: found and settled means sent; return it, send nothing;
 *   2. APPEND the copy to Sent marked `$KeelSending` (before the send, so a crash during it
 *      leaves a trace);
 *   3. hand the same bytes to SMTP;
 *   4. remove the mark.
 *
 * A crash before 2 leaves nothing: the retry sends. A crash between 2 and 4 leaves a marked copy:
 * whether the SMTP server took the message is unknown, so the retry neither sends again nor
 * claims success; it fails asking the operator (see EmailDeliveryUnknownError). An SMTP refusal
 * removes the marked copy. Servers that file sent mail themselves (`sentCopy: server`) get no
 * marked copy: there the window between the server's answer and its own filing is not covered.
 */
import { createHash } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import { readInside } from '../../files/workspacePaths';
import { connectorLibraries } from '../connectorLibraries';
import type { ActionContext, ConnectorAction } from '../sdk';
import {
  bareAddress,
  EmailError,
  EmailInputError,
  settings,
  smtpFailure,
  smtpTransport,
  withImap,
  type EmailSettings,
} from './account';
import { emailFromReview, reviewEmail } from './review';
import { attachable, sendInputSchema, sendOutputSchema, type SendInput, type SendOutput } from './sendInput';

/** The keyword on a Sent copy whose SMTP hand-over has not been confirmed. */
export const SENDING_KEYWORD = '$KeelSending';
/** Total bytes of attachments per email (Postfix's default message limit is 10 MB). */
export const ATTACHMENTS_LIMIT = 8 * 1024 * 1024;

/** The send's outcome is unknown: the operator must check and settle it. */
export class EmailDeliveryUnknownError extends EmailError {
  override name = 'EmailDeliveryUnknownError';
  constructor(messageId: string, folder: string, cause: string) {
    super(
      `Email ${messageId} may or may not have been sent (${cause}). Its copy in ${folder} is marked ` +
        `${SENDING_KEYWORD}. Check with a recipient: if it arrived, remove the ${SENDING_KEYWORD} ` +
        `keyword from the copy; if not, delete the copy. Then resume the run.`,
    );
  }
}

/** `<keel.HASH@domain-of-from>`: the same for every attempt with one idempotency key. */
export function messageIdFor(key: string, from: string): string {
  const hash = createHash('sha256').update(`email@1:${key}`).digest('hex').slice(0, 40);
  const domain = bareAddress(from).split('@')[1] ?? 'keel.invalid';
  return `<keel.${hash}@${domain}>`;
}

export const sendAction: ConnectorAction<SendInput, SendOutput> = {
  description:
    'Sends a plain-text email (to, cc, subject, text; optional inReplyTo/references to answer in a thread; ' +
    'attachments as workspace files under outbox/ or memory/) and keeps a copy in the Sent folder.',
  risk: 'external',
  input: sendInputSchema,
  output: sendOutputSchema,
  review: reviewEmail,
  fromReview: emailFromReview,
  // Rules see every recipient as `to` (a rule `to: { in: trustedDomains }` cannot be passed by
  // putting the outsider in Cc), and any attachment makes the send wait for the operator.
  policy: (input) => ({
    arguments: { ...input, to: [...input.to, ...input.cc] },
    ...(input.attachments.length > 0
      ? {
          ask: `it has attachments (${input.attachments.map((a) => a.path).join(', ')}), and an email with attachments always asks`,
        }
      : {}),
  }),
  find: (input, ctx) => {
    const account = settings(ctx);
    const messageId = messageIdFor(ctx.idempotencyKey, account.from);
    return withImap(ctx, (imap) => findSent(imap, account, messageId, input));
  },
  perform: async (input, ctx) => {
    const account = settings(ctx);
    const messageId = messageIdFor(ctx.idempotencyKey, account.from);
    const raw = await compose(input, account, messageId, ctx);
    return withImap(ctx, async (imap) => {
      const done = await findSent(imap, account, messageId, input);
      if (done) return done;
      return deliver(imap, { input, account, messageId, raw }, ctx);
    });
  },
};

interface Outgoing {
  input: SendInput;
  account: EmailSettings;
  messageId: string;
  raw: Buffer;
}

async function deliver(imap: ImapFlow, mail: Outgoing, ctx: ActionContext): Promise<SendOutput> {
  const { account, messageId, input } = mail;
  const marked = account.sentCopy === 'append' && (await keywordsAllowed(imap, account.sentFolder));
  const pending = marked ? await appendMarked(imap, account.sentFolder, mail) : null;
  const transport = smtpTransport(ctx);
  let response: string;
  try {
    const info = await transport.sendMail({
      envelope: { from: bareAddress(account.from), to: [...input.to, ...input.cc].map(bareAddress) },
      raw: mail.raw,
    });
    response = info.response;
  } catch (error) {
    if (pending !== null && !surelyNotSent(error)) {
      throw new EmailDeliveryUnknownError(messageId, account.sentFolder, smtpFailure(error, ctx).message);
    }
    if (pending !== null) await deleteCopy(imap, account.sentFolder, pending);
    throw smtpFailure(error, ctx);
  } finally {
    transport.close();
  }
  let sentUid = pending;
  if (pending !== null) await settle(imap, account.sentFolder, pending);
  else if (account.sentCopy === 'append')
    sentUid = await append(imap, account.sentFolder, mail.raw, ['\\Seen']);
  return {
    messageId,
    sentFolder: account.sentFolder,
    sentUid,
    recipients: [...input.to, ...input.cc],
    smtpResponse: response,
    resumed: false,
  };
}

/** The copy in Sent with this Message-ID: null when none; throws when it is still marked. */
async function findSent(
  imap: ImapFlow,
  account: EmailSettings,
  messageId: string,
  input: SendInput,
): Promise<SendOutput | null> {
  const lock = await imap.getMailboxLock(account.sentFolder);
  try {
    const uids = (await imap.search({ header: { 'message-id': messageId } }, { uid: true })) || [];
    if (uids.length === 0) return null;
    const copies = await imap.fetchAll(uids, { uid: true, flags: true }, { uid: true });
    const settled = copies.find((copy) => !copy.flags?.has(SENDING_KEYWORD));
    if (!settled) {
      throw new EmailDeliveryUnknownError(
        messageId,
        account.sentFolder,
        'the daemon stopped while sending it',
      );
    }
    return {
      messageId,
      sentFolder: account.sentFolder,
      sentUid: settled.uid,
      recipients: [...input.to, ...input.cc],
      smtpResponse: null,
      resumed: true,
    };
  } finally {
    lock.release();
  }
}

/** The raw message, built once so the bytes sent are the bytes kept in Sent. */
async function compose(input: SendInput, account: EmailSettings, messageId: string, ctx: ActionContext) {
  const attachments = [];
  let total = 0;
  for (const attachment of input.attachments) {
    // The input schema already refused these; checked again here, where the file is read.
    if (!attachable(attachment.path)) {
      throw new EmailInputError(
        `Attachment ${attachment.path} is not under outbox/ or memory/ (or is hidden); Keel attaches only files from there.`,
      );
    }
    // readInside walks from the workspace root and refuses any symlink on the way (WorkspacePathError).
    const content = await readInside(ctx.workspace, attachment.path);
    if (content === null) {
      throw new EmailInputError(`Attachment ${attachment.path} does not exist in the workspace.`);
    }
    total += content.length;
    if (total > ATTACHMENTS_LIMIT) {
      throw new EmailInputError(
        `Attachments exceed ${ATTACHMENTS_LIMIT / 1024 / 1024} MB; send a link instead.`,
      );
    }
    attachments.push({
      filename: attachment.filename ?? attachment.path.split('/').pop(),
      content,
      ...(attachment.contentType ? { contentType: attachment.contentType } : {}),
    });
  }
  const MailComposer = connectorLibraries().MailComposer();
  const composer = new MailComposer({
    from: account.from,
    to: input.to,
    cc: input.cc.length > 0 ? input.cc : undefined,
    subject: input.subject,
    text: input.text,
    messageId,
    date: new Date(),
    inReplyTo: input.inReplyTo,
    references: input.references.length > 0 ? input.references : undefined,
    attachments,
    // No X-Mailer naming the library and version to every recipient.
    xMailer: false,
  });
  return composer.compile().build();
}

async function keywordsAllowed(imap: ImapFlow, folder: string): Promise<boolean> {
  const lock = await imap.getMailboxLock(folder);
  try {
    const flags = imap.mailbox ? imap.mailbox.permanentFlags : undefined;
    return flags === undefined || flags.has('\\*');
  } finally {
    lock.release();
  }
}

async function append(imap: ImapFlow, folder: string, raw: Buffer, flags: string[]): Promise<number | null> {
  const result = await imap.append(folder, raw, flags);
  if (!result)
    throw new EmailError(`The IMAP server did not store the copy in ${folder}: does the folder exist?`);
  return result.uid ?? null;
}

/** Appends the marked copy; its UID from UIDPLUS, or by searching when the server has no UIDPLUS. */
async function appendMarked(imap: ImapFlow, folder: string, mail: Outgoing): Promise<number> {
  const uid = await append(imap, folder, mail.raw, ['\\Seen', SENDING_KEYWORD]);
  if (uid !== null) return uid;
  const lock = await imap.getMailboxLock(folder);
  try {
    const uids = (await imap.search({ header: { 'message-id': mail.messageId } }, { uid: true })) || [];
    const found = uids.at(-1);
    if (found === undefined) throw new EmailError(`The copy appended to ${folder} cannot be found again.`);
    return found;
  } finally {
    lock.release();
  }
}

async function settle(imap: ImapFlow, folder: string, uid: number): Promise<void> {
  const lock = await imap.getMailboxLock(folder);
  try {
    await imap.messageFlagsRemove(String(uid), [SENDING_KEYWORD], { uid: true });
  } finally {
    lock.release();
  }
}

async function deleteCopy(imap: ImapFlow, folder: string, uid: number): Promise<void> {
  const lock = await imap.getMailboxLock(folder);
  try {
    await imap.messageDelete(String(uid), { uid: true });
  } finally {
    lock.release();
  }
}

/**
 * Whether the SMTP server surely did not take the message: it answered with an error (to the login,
 * the envelope, or the end of the data), or no connection was made. A connection lost without an
 * answer once the data may have gone out is unknown.
 */
function surelyNotSent(error: unknown): boolean {
  const detail = error as { code?: string; responseCode?: number; message?: string };
  if (typeof detail.responseCode === 'number' && detail.responseCode >= 400) return true;
  if (['EAUTH', 'ENOAUTH', 'EENVELOPE', 'EDNS', 'ETLS', 'EREQUIRETLS'].includes(detail.code ?? ''))
    return true;
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH/.test(detail.message ?? '');
}
