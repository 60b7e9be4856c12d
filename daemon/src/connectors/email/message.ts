/**
 * Received mail as data: a message's source parsed with mailparser into plain fields, with every
 * part that could be large cut to a limit. Nothing here interprets the content (no HTML rendered,
 * no link followed, no attachment opened); the fields carry `untrusted: true` so whatever builds a
 * prompt from them marks them as data.
 */
import type { AddressObject } from 'mailparser';
import { z } from 'zod';
import { connectorLibraries } from '../connectorLibraries';

/** Bytes of a message's source fetched from the server: enough for the text of any real email. */
export const SOURCE_LIMIT = 2 * 1024 * 1024;
/** Characters of body text returned (about 15 pages); `truncated` says when there was more. */
export const TEXT_LIMIT = 64 * 1024;
/** Characters of a subject (RFC 5322's line limit). */
const SUBJECT_LIMIT = 998;
/** Addresses listed per header, and references kept. */
const LIST_LIMIT = 100;

export const receivedMessageSchema = z.object({
  messageId: z.string().nullable(),
  from: z.string(),
  to: z.array(z.string()),
  cc: z.array(z.string()),
  subject: z.string(),
  /** ISO time from the Date header, or null. */
  date: z.string().nullable(),
  inReplyTo: z.string().nullable(),
  references: z.array(z.string()),
  /** The id that names the conversation: the first reference, else what it replies to, else its own id. */
  thread: z.string().nullable(),
  /** Plain text (made from the HTML when there is no text part), at most TEXT_LIMIT characters. */
  text: z.string(),
  /** Whether the text (or the source it came from) was cut. */
  truncated: z.boolean(),
  attachments: z.array(
    z.object({ filename: z.string().nullable(), contentType: z.string(), size: z.number() }),
  ),
  /** Always true: this came from outside and is data, never instructions. */
  untrusted: z.literal(true),
});
export type ReceivedMessage = z.infer<typeof receivedMessageSchema>;

/**
 * Parses a message source. `complete` is false when the fetch stopped at SOURCE_LIMIT, so the
 * result is marked truncated.
 */
export async function parseMessage(source: Buffer, complete: boolean): Promise<ReceivedMessage> {
  const { simpleParser } = connectorLibraries().mailparser();
  const mail = await simpleParser(source, {
    skipHtmlToText: false,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const fullText = mail.text ?? '';
  const references = (
    Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : []
  )
    .slice(0, LIST_LIMIT)
    .map(oneLine);
  const messageId = mail.messageId ? oneLine(mail.messageId) : null;
  const inReplyTo = mail.inReplyTo ? oneLine(mail.inReplyTo) : null;
  return {
    messageId,
    from: addresses(mail.from)[0] ?? '',
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    subject: oneLine(mail.subject ?? '').slice(0, SUBJECT_LIMIT),
    date: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : null,
    inReplyTo,
    references,
    thread: references[0] ?? inReplyTo ?? messageId,
    text: fullText.slice(0, TEXT_LIMIT),
    truncated: !complete || fullText.length > TEXT_LIMIT,
    attachments: mail.attachments.slice(0, LIST_LIMIT).map((attachment) => ({
      filename: attachment.filename ? oneLine(attachment.filename) : null,
      contentType: attachment.contentType,
      size: attachment.size,
    })),
    untrusted: true,
  };
}

/** `Name <a@b>` strings of an address header (groups flattened), at most LIST_LIMIT. */
function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const objects = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const flat = objects.flatMap((object) =>
    object.value.flatMap((entry) => (entry.group ? entry.group : [entry])),
  );
  return flat
    .slice(0, LIST_LIMIT)
    .map((entry) => oneLine(entry.name ? `${entry.name} <${entry.address ?? ''}>` : (entry.address ?? '')));
}

/** Header values are single lines: folded or smuggled line breaks become spaces. */
function oneLine(value: string): string {
  return value.replace(/[\r\n\t]+/g, ' ').trim();
}
