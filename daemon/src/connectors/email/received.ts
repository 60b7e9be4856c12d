/**
 * `email.received`: new messages in the watched folder (settings `inbox`, default INBOX), found by
 * polling. The cursor the host keeps is `imap1:<UIDVALIDITY>:<last UID>:<last arrival ms>`:
 * UIDs only grow while UIDVALIDITY stays the same, so "UID above the last one" is exactly the new
 * mail, each message once across restarts.
 *
 * When UIDVALIDITY changes (the folder was recreated or rebuilt, and every UID renumbered), the
 * old last UID means nothing. Firing every message again would answer old mail twice; skipping
 * to "now" would lose what arrived meanwhile. The cursor therefore also keeps the arrival time
 * (INTERNALDATE) of the last message it fired, or the time it was made: after a change, only
 * messages that arrived later than that fire, then the new UIDVALIDITY takes over.
 */
import type { ImapFlow } from 'imapflow';
import { z } from 'zod';
import type { ConnectorEvent, EventSource } from '../sdk';
import { EmailError, settings, withImap } from './account';
import { fetchSource, inFolder } from './mailbox';
import { receivedMessageSchema } from './message';

export const EMAIL_RECEIVED = 'email.received';
/** Messages fired per poll; the rest come on the next polls, in order. */
export const POLL_BATCH = 25;
/** Messages fired at most after a UIDVALIDITY change (older arrivals beyond it are dropped). */
export const RENUMBERED_LIMIT = 200;

export const receivedPayloadSchema = receivedMessageSchema.extend({ folder: z.string(), uid: z.number() });

export const receivedEvent: ConnectorEvent = {
  description:
    'A new message in the watched folder: from, to, cc, subject, text (untrusted data), messageId, inReplyTo, references, thread, uid.',
  payload: receivedPayloadSchema,
};

interface Cursor {
  uidValidity: string;
  lastUid: number;
  lastArrival: number;
}

export function formatCursor(cursor: Cursor): string {
  return `imap1:${cursor.uidValidity}:${cursor.lastUid}:${cursor.lastArrival}`;
}

export function parseCursor(text: string): Cursor {
  const match = /^imap1:(\d+):(\d+):(\d+)$/.exec(text);
  if (!match)
    throw new EmailError(`email@1 cannot read its event cursor "${text}"; reset the connector's cursor.`);
  return { uidValidity: match[1]!, lastUid: Number(match[2]), lastArrival: Number(match[3]) };
}

export const receivedSource: EventSource = {
  poll: (cursorText, ctx) => {
    const folder = settings(ctx).inbox;
    return withImap(ctx, (imap) =>
      inFolder(imap, folder, async () => {
        const mailbox = imap.mailbox;
        if (!mailbox) throw new EmailError(`Folder ${folder} did not open.`);
        const uidValidity = mailbox.uidValidity.toString();
        if (cursorText === null) {
          // Start from now: what is already there is not news.
          const cursor = { uidValidity, lastUid: mailbox.uidNext - 1, lastArrival: Date.now() };
          return { events: [], cursor: formatCursor(cursor) };
        }
        const cursor = parseCursor(cursorText);
        if (cursor.uidValidity === uidValidity) {
          const uids = await uidsAfter(imap, cursor.lastUid);
          return collect(imap, folder, uids.slice(0, POLL_BATCH), cursor);
        }
        // Renumbered: fire what arrived since, all at once (old mail may hold higher new UIDs),
        // then continue from the top of the new numbering.
        const uids = await arrivedAfter(imap, cursor.lastArrival);
        const renumbered = { uidValidity, lastUid: 0, lastArrival: cursor.lastArrival };
        const result = await collect(imap, folder, uids.slice(0, RENUMBERED_LIMIT), renumbered);
        const next = parseCursor(result.cursor);
        return { ...result, cursor: formatCursor({ ...next, lastUid: mailbox.uidNext - 1 }) };
      }),
    );
  },
};

async function uidsAfter(imap: ImapFlow, lastUid: number): Promise<number[]> {
  // `N:*` also names the highest message when none is above N: filter.
  const uids = (await imap.search({ uid: `${lastUid + 1}:*` }, { uid: true })) || [];
  return uids.filter((uid) => uid > lastUid).sort((a, b) => a - b);
}

/** UIDs (in the new numbering) of messages that arrived after `time`, in arrival order. */
async function arrivedAfter(imap: ImapFlow, time: number): Promise<number[]> {
  // SINCE is by day: take the day of `time`, then compare the exact arrival times.
  const candidates = (await imap.search({ since: new Date(time) }, { uid: true })) || [];
  if (candidates.length === 0) return [];
  const fetched = await imap.fetchAll(candidates, { uid: true, internalDate: true }, { uid: true });
  return fetched
    .filter((message) => new Date(message.internalDate ?? 0).getTime() > time)
    .sort((a, b) => a.uid - b.uid)
    .map((message) => message.uid);
}

async function collect(imap: ImapFlow, folder: string, uids: number[], cursor: Cursor) {
  const events = [];
  const next = { ...cursor };
  for (const uid of uids) {
    const meta = await imap.fetchOne(String(uid), { uid: true, internalDate: true }, { uid: true });
    if (!meta) continue; // expunged between the search and now
    const message = await fetchSource(imap, uid, folder);
    events.push({
      name: EMAIL_RECEIVED,
      id: `${folder}:${cursor.uidValidity}:${uid}`,
      payload: { ...message, folder, uid },
    });
    next.lastUid = uid;
    next.lastArrival = Math.max(next.lastArrival, new Date(meta.internalDate ?? 0).getTime());
  }
  return { events, cursor: formatCursor(next) };
}
