/**
 * What `email.send` takes and returns. Every value that becomes a header is one line (no CR or LF,
 * so no header can be smuggled in through a subject or an address), addresses are plain
 * `a@b` or `Name <a@b>`, and message ids are `<...>`.
 */
import { z } from 'zod';

const ADDRESS = /^(?:[^\r\n<>@",;]*<[^\s<>@",;]+@[^\s<>@",;]+>|[^\s<>@",;]+@[^\s<>@",;]+)$/;
const MESSAGE_ID = /^<[^\s<>]+>$/;

const address = z
  .string()
  .transform((value) => value.trim())
  .refine((value) => ADDRESS.test(value), {
    message: 'not an email address (a@example.com or Name <a@example.com>)',
  });

/** One address, a comma-separated list, or an array of them. */
const addressList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) =>
    (Array.isArray(value) ? value : value.split(','))
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .pipe(z.array(address).max(100));

/** The folders an attachment may come from: what the agents write to send, and the memory. */
export const ATTACHMENT_FOLDERS = ['outbox', 'memory'] as const;

/**
 * Whether a workspace-relative path may be attached: under outbox/ or memory/, plain segments
 * only, none hidden. So `.env`, `.keel/`, `.git/` and `memory/.secret/x` never leave by email,
 * however an agent is talked into it.
 */
export function attachable(path: string): boolean {
  const parts = path.split('/');
  return (
    !path.includes('\\') &&
    parts.length >= 2 &&
    (ATTACHMENT_FOLDERS as readonly string[]).includes(parts[0]!) &&
    parts.every((part) => part !== '' && !part.startsWith('.'))
  );
}

const attachmentPath = z
  .string()
  .min(1)
  .refine(attachable, {
    message:
      'attachments come from outbox/ or memory/ (a workspace-relative path like outbox/quote.pdf, ' +
      'no hidden file or folder): copy the file there first',
  });

const messageId = z
  .string()
  .transform((value) => value.trim())
  .refine((value) => MESSAGE_ID.test(value), { message: 'not a message id (<id@host>)' });

export const sendInputSchema = z.object({
  to: addressList.refine((list) => list.length > 0, { message: 'at least one recipient' }),
  cc: addressList.default([]),
  subject: z
    .string()
    .max(998)
    .refine((value) => !/[\r\n]/.test(value), { message: 'a subject is one line' }),
  /** The plain-text body. */
  text: z.string().max(1024 * 1024),
  /** Threading: the Message-ID this answers, and the conversation's ids (oldest first). */
  inReplyTo: messageId.optional(),
  references: z.array(messageId).max(100).default([]),
  /** Workspace-relative files under outbox/ or memory/ (see attachable); read without following any symlink. */
  attachments: z
    .array(
      z.object({
        path: attachmentPath,
        filename: z
          .string()
          .refine((value) => !/[\r\n/\\]/.test(value), {
            message: 'a file name without slashes or line breaks',
          })
          .optional(),
        contentType: z
          .string()
          .regex(/^[\w.+-]+\/[\w.+-]+$/)
          .optional(),
      }),
    )
    .max(20)
    .default([]),
});
export type SendInput = z.infer<typeof sendInputSchema>;

export const sendOutputSchema = z.object({
  messageId: z.string(),
  /** The folder and UID of the copy in Sent; null when the server files it and has not yet. */
  sentFolder: z.string(),
  sentUid: z.number().nullable(),
  /** To and Cc, as sent. */
  recipients: z.array(z.string()),
  /** The SMTP server's final answer; null when the send was found done rather than done now. */
  smtpResponse: z.string().nullable(),
  /** True when it was found already sent (after a crash) and not sent again. */
  resumed: z.boolean(),
});
export type SendOutput = z.infer<typeof sendOutputSchema>;
