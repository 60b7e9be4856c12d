/**
 * The IMAP actions on messages already in the mailbox: `search` and `read` (read-only), `move` and
 * `flag` (internal, each undone by its mirror: move back, restore the flag as it was). Messages are
 * named by folder and UID, what IMAP keeps stable while the folder's UIDVALIDITY is unchanged.
 * A move or flag cut off by a crash is looked up on the server (`find`) before it is done again:
 * a moved message by its Message-ID in the target folder, a flag by whether it is set.
 */
import type { ImapFlow, SearchObject } from 'imapflow';
import { z } from 'zod';
import { ActionInputError, type ConnectorAction } from '../sdk';
import { EmailError, withImap } from './account';
import { parseMessage, receivedMessageSchema, SOURCE_LIMIT } from './message';

const folder = z.string().min(1).max(500).default('INBOX');
const uid = z.number().int().positive();
/** System flags and keywords (atoms); a `\Deleted` flag is refused: deleting is not this action. */
const flagName = z.string().regex(/^(\\(Seen|Answered|Flagged|Draft)|\$?[A-Za-z0-9_.-]{1,64})$/, {
  message: 'a flag is \\Seen, \\Answered, \\Flagged, \\Draft or a keyword such as $Label1',
});

const summary = z.object({
  uid,
  messageId: z.string().nullable(),
  from: z.string(),
  to: z.array(z.string()),
  subject: z.string(),
  date: z.string().nullable(),
  flags: z.array(z.string()),
  size: z.number(),
});

const searchInput = z.object({
  folder,
  from: z.string().max(200).optional(),
  to: z.string().max(200).optional(),
  subject: z.string().max(200).optional(),
  text: z.string().max(200).optional(),
  /** ISO dates: arrived on or after `since`, before `before`. */
  since: z.iso.date().optional(),
  before: z.iso.date().optional(),
  unseen: z.boolean().optional(),
  messageId: z.string().max(500).optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

const searchOutput = z.object({ folder: z.string(), messages: z.array(summary), untrusted: z.literal(true) });

export const searchAction: ConnectorAction<z.infer<typeof searchInput>, z.infer<typeof searchOutput>> = {
  description: 'Lists messages of a folder (newest first) matching from/to/subject/text/date/unseen.',
  risk: 'read',
  input: searchInput,
  output: searchOutput,
  review: (input) => ({ title: `Search ${input.folder}`, language: 'yaml', text: yamlLines(input) }),
  perform: (input, ctx) =>
    withImap(ctx, (imap) =>
      inFolder(imap, input.folder, async () => {
        const uids = (await imap.search(searchQuery(input), { uid: true })) || [];
        const newest = uids.sort((a, b) => b - a).slice(0, input.limit);
        if (newest.length === 0) return { folder: input.folder, messages: [], untrusted: true as const };
        const fetched = await imap.fetchAll(
          newest,
          { uid: true, envelope: true, flags: true, size: true },
          { uid: true },
        );
        const messages = fetched
          .sort((a, b) => b.uid - a.uid)
          .map((message) => ({
            uid: message.uid,
            messageId: message.envelope?.messageId ?? null,
            from: formatAddress(message.envelope?.from?.[0]),
            to: (message.envelope?.to ?? []).map(formatAddress),
            subject: (message.envelope?.subject ?? '').replace(/[\r\n]+/g, ' ').slice(0, 998),
            date: isoDate(message.envelope?.date),
            flags: [...(message.flags ?? [])],
            size: message.size ?? 0,
          }));
        return { folder: input.folder, messages, untrusted: true as const };
      }),
    ),
};

function searchQuery(input: z.infer<typeof searchInput>): SearchObject {
  const query: SearchObject = {
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(input.subject ? { subject: input.subject } : {}),
    ...(input.text ? { text: input.text } : {}),
    ...(input.since ? { since: input.since } : {}),
    ...(input.before ? { before: input.before } : {}),
    ...(input.unseen ? { seen: false } : {}),
    ...(input.messageId ? { header: { 'message-id': input.messageId } } : {}),
  };
  return Object.keys(query).length === 0 ? { all: true } : query;
}

const readInput = z.object({ folder, uid });

const readOutput = receivedMessageSchema.extend({ folder: z.string(), uid });

export const readAction: ConnectorAction<z.infer<typeof readInput>, z.infer<typeof readOutput>> = {
  description: `Reads one message by folder and UID: headers and plain text (text cut at 64 KiB, source at ${SOURCE_LIMIT / 1024 / 1024} MiB). Untrusted data.`,
  risk: 'read',
  input: readInput,
  output: readOutput,
  review: (input) => ({
    title: `Read message ${input.uid} in ${input.folder}`,
    language: 'yaml',
    text: yamlLines(input),
  }),
  perform: (input, ctx) =>
    withImap(ctx, (imap) =>
      inFolder(imap, input.folder, async () => {
        const message = await fetchSource(imap, input.uid, input.folder);
        return { folder: input.folder, uid: input.uid, ...message };
      }),
    ),
};

/** A message's source (at most SOURCE_LIMIT bytes) parsed; the folder must be selected. */
export async function fetchSource(imap: ImapFlow, messageUid: number, folderName: string) {
  const fetched = await imap.fetchOne(
    String(messageUid),
    { uid: true, size: true, source: { maxLength: SOURCE_LIMIT } },
    { uid: true },
  );
  if (!fetched || !fetched.source)
    throw new EmailError(`No message with UID ${messageUid} in ${folderName}.`);
  return parseMessage(fetched.source, (fetched.size ?? 0) <= SOURCE_LIMIT);
}

const moveInput = z.object({
  folder,
  uid,
  to: z.string().min(1).max(500),
  /**
   * The message's Message-ID (search and read give it): the move checks it names the message at
   * that UID, and a move cut off by a crash is found by it in the target folder.
   */
  messageId: z.string().min(1).max(998).optional(),
});
type MoveInput = z.infer<typeof moveInput>;
const moveOutput = z.object({
  /** Where the message is now, and its UID there. */
  folder: z.string(),
  uid,
  /** Where it was. */
  from: z.string(),
  previousUid: uid,
  messageId: z.string().nullable(),
});

export const moveAction: ConnectorAction<z.infer<typeof moveInput>, z.infer<typeof moveOutput>> = {
  description: 'Moves a message to another folder (undo: moves it back).',
  risk: 'internal',
  input: moveInput,
  output: moveOutput,
  review: (input) => ({
    title: `Move message ${input.uid} from ${input.folder} to ${input.to}`,
    language: 'yaml',
    text: yamlLines(input),
  }),
  undo: {
    action: 'move',
    input: (_input, output) => ({
      folder: output.folder,
      uid: output.uid,
      to: output.from,
      ...(output.messageId ? { messageId: output.messageId } : {}),
    }),
  },
  find: (input, ctx) => withImap(ctx, (imap) => findMoved(imap, input)),
  perform: (input, ctx) =>
    withImap(ctx, (imap) =>
      inFolder(imap, input.folder, async () => {
        const found = await imap.fetchOne(String(input.uid), { uid: true, envelope: true }, { uid: true });
        if (!found)
          throw new EmailError(
            `No message with UID ${input.uid} in ${input.folder} (moved or deleted already?).`,
          );
        const messageId = found.envelope?.messageId ?? null;
        if (input.messageId && messageId !== input.messageId) {
          throw new ActionInputError(
            `Message ${input.uid} in ${input.folder} is ${messageId ?? 'a message without Message-ID'}, not ${input.messageId}; search the folder again for its UID.`,
          );
        }
        const moved = await imap.messageMove(String(input.uid), input.to, { uid: true });
        const newUid = moved ? moved.uidMap?.get(input.uid) : undefined;
        if (newUid === undefined) {
          throw new EmailError(
            `The server did not report where message ${input.uid} went in ${input.to}; does ${input.to} exist?`,
          );
        }
        return {
          folder: input.to,
          uid: newUid,
          from: input.folder,
          previousUid: input.uid,
          messageId: found.envelope?.messageId ?? null,
        };
      }),
    ),
};

const flagInput = z.object({
  folder,
  uid,
  flag: flagName.default('\\Flagged'),
  set: z.boolean().default(true),
});
const flagOutput = z.object({
  folder: z.string(),
  uid,
  flag: z.string(),
  set: z.boolean(),
  wasSet: z.boolean(),
});

export const flagAction: ConnectorAction<z.infer<typeof flagInput>, z.infer<typeof flagOutput>> = {
  description:
    'Sets (or with set: false clears) a flag such as \\Flagged or \\Seen (undo: restores it as it was).',
  risk: 'internal',
  input: flagInput,
  output: flagOutput,
  review: (input) => ({
    title: `${input.set ? 'Set' : 'Clear'} ${input.flag} on message ${input.uid} in ${input.folder}`,
    language: 'yaml',
    text: yamlLines(input),
  }),
  undo: {
    action: 'flag',
    input: (_input, output) => ({
      folder: output.folder,
      uid: output.uid,
      flag: output.flag,
      set: output.wasSet,
    }),
  },
  /**
   * A flag already as the action leaves it is taken as done. Whether it was so before cannot be
   * told after the fact: `wasSet` says it was, so the undo leaves the flag as it is rather than
   * clearing (or setting) one the operator may have changed themselves.
   */
  find: (input, ctx) =>
    withImap(ctx, (imap) =>
      inFolder(imap, input.folder, async () => {
        const found = await imap.fetchOne(String(input.uid), { uid: true, flags: true }, { uid: true });
        if (!found) throw new EmailError(`No message with UID ${input.uid} in ${input.folder}.`);
        if ((found.flags?.has(input.flag) ?? false) !== input.set) return null;
        return { folder: input.folder, uid: input.uid, flag: input.flag, set: input.set, wasSet: input.set };
      }),
    ),
  perform: (input, ctx) =>
    withImap(ctx, (imap) =>
      inFolder(imap, input.folder, async () => {
        const found = await imap.fetchOne(String(input.uid), { uid: true, flags: true }, { uid: true });
        if (!found) throw new EmailError(`No message with UID ${input.uid} in ${input.folder}.`);
        const wasSet = found.flags?.has(input.flag) ?? false;
        if (input.set) await imap.messageFlagsAdd(String(input.uid), [input.flag], { uid: true });
        else await imap.messageFlagsRemove(String(input.uid), [input.flag], { uid: true });
        return { folder: input.folder, uid: input.uid, flag: input.flag, set: input.set, wasSet };
      }),
    ),
};

/**
 * Whether a move cut off by a crash happened: still at its UID in the source folder, it did not
 * (null: move it); gone from there, it is looked for by Message-ID in the target folder. A message
 * in neither, or a move that names no Message-ID, cannot be told apart from one moved by someone
 * else: the operator decides (the step fails saying so).
 */
async function findMoved(imap: ImapFlow, input: MoveInput): Promise<z.infer<typeof moveOutput> | null> {
  const still = await inFolder(imap, input.folder, () =>
    imap.fetchOne(String(input.uid), { uid: true }, { uid: true }),
  );
  if (still) return null;
  if (!input.messageId) {
    throw new EmailError(
      `The move of message ${input.uid} from ${input.folder} to ${input.to} was cut off, and the message is no longer in ${input.folder}; ` +
        'without its messageId Keel cannot tell whether this move took it. Check the folders, then take the run over.',
    );
  }
  const messageId = input.messageId;
  const uids = await inFolder(imap, input.to, async () =>
    ((await imap.search({ header: { 'message-id': messageId } }, { uid: true })) || []).sort((a, b) => b - a),
  );
  if (uids[0] === undefined) {
    throw new EmailError(
      `The move of message ${messageId} from ${input.folder} to ${input.to} was cut off, and the message is in neither folder ` +
        '(moved or deleted by someone else?). Check the mailbox, then take the run over.',
    );
  }
  return { folder: input.to, uid: uids[0], from: input.folder, previousUid: input.uid, messageId };
}

/** Runs `use` with `name` selected, under imapflow's mailbox lock. */
export async function inFolder<T>(imap: ImapFlow, name: string, use: () => Promise<T>): Promise<T> {
  const lock = await imap.getMailboxLock(name).catch((error: Error & { responseText?: string }) => {
    throw new EmailError(`Cannot open folder ${name}: ${error.responseText ?? error.message}`);
  });
  try {
    return await use();
  } finally {
    lock.release();
  }
}

function formatAddress(address: { name?: string; address?: string } | undefined): string {
  if (!address) return '';
  const text = address.name ? `${address.name} <${address.address ?? ''}>` : (address.address ?? '');
  return text.replace(/[\r\n]+/g, ' ');
}

function isoDate(value: Date | string | undefined): string | null {
  if (value === undefined) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function yamlLines(input: Record<string, unknown>): string {
  return Object.entries(input)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n');
}
