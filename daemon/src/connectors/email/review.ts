/**
 * An outgoing email as the operator reviews it: header lines, a blank line, the body, the way a
 * mail client shows a draft. `fromReview` reads the edited document back: To, Cc, Subject and the
 * body may change; the threading headers and attachments the agent chose may not (a changed one
 * is refused with the reason, rather than silently dropped).
 */
import type { ReviewDocument } from '../sdk';
import { EmailError } from './account';
import { sendInputSchema, type SendInput } from './sendInput';

const EDITABLE = ['to', 'cc', 'subject'] as const;
const FIXED = ['in-reply-to', 'references', 'attachments'] as const;

export function reviewEmail(input: SendInput): ReviewDocument {
  const lines = [`To: ${input.to.join(', ')}`];
  if (input.cc.length > 0) lines.push(`Cc: ${input.cc.join(', ')}`);
  lines.push(`Subject: ${input.subject}`);
  for (const [name, value] of fixedHeaders(input)) lines.push(`${name}: ${value}`);
  return {
    title: `Email to ${input.to.join(', ')}: ${input.subject}`,
    language: 'email',
    text: `${lines.join('\n')}\n\n${input.text}`,
  };
}

/** The edited document as a send input; throws EmailError naming the line to fix. */
export function emailFromReview(text: string, original: SendInput): SendInput {
  const normalized = text.replace(/\r\n/g, '\n');
  const split = normalized.indexOf('\n\n');
  const head = split === -1 ? normalized : normalized.slice(0, split);
  const body = split === -1 ? '' : normalized.slice(split + 2);
  const headers = new Map<string, string>();
  for (const line of head.split('\n')) {
    if (line.trim() === '') continue;
    const match = /^([A-Za-z-]+):[ \t]*(.*)$/.exec(line);
    if (!match) {
      throw new EmailError(
        `The edited email has a header line "${line}" without "Name: value"; keep one blank line before the body.`,
      );
    }
    const name = match[1]!.toLowerCase();
    if (![...EDITABLE, ...FIXED].includes(name as (typeof EDITABLE)[number])) {
      throw new EmailError(
        `The edited email has a header "${match[1]}" Keel does not send; use To, Cc and Subject.`,
      );
    }
    headers.set(name, match[2]!.trim());
  }
  for (const [name, value] of fixedHeaders(original)) {
    if ((headers.get(name.toLowerCase()) ?? '') !== value) {
      throw new EmailError(
        `${name} cannot be changed in review (it was "${value}"); reject the proposal instead.`,
      );
    }
  }
  for (const name of FIXED) {
    if (headers.has(name) && !fixedHeaders(original).some(([fixed]) => fixed.toLowerCase() === name)) {
      throw new EmailError(`${name} cannot be added in review; reject the proposal instead.`);
    }
  }
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((address) => address.trim())
      .filter((address) => address !== '');
  const parsed = sendInputSchema.safeParse({
    ...original,
    to: list(headers.get('to')),
    cc: list(headers.get('cc')),
    subject: headers.get('subject') ?? '',
    text: body,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmailError(`The edited email is not valid at ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

function fixedHeaders(input: SendInput): [string, string][] {
  const headers: [string, string][] = [];
  if (input.inReplyTo) headers.push(['In-Reply-To', input.inReplyTo]);
  if (input.references.length > 0) headers.push(['References', input.references.join(' ')]);
  if (input.attachments.length > 0) {
    headers.push(['Attachments', input.attachments.map((attachment) => attachment.path).join(', ')]);
  }
  return headers;
}
