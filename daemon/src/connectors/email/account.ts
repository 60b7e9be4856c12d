/**
 * email@1's account: its settings from keel.yaml, and the IMAP and SMTP connections made from them
 * with the `password` credential. Every error that leaves here names the server and the fix and
 * never carries the password (it is cut out of any server text that might echo it). The IMAP and
 * SMTP libraries load when a connection is made, from their own bundle (connectorLibraries.ts).
 */
import type { ImapFlow } from 'imapflow';
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import { z } from 'zod';
import { connectorLibraries } from '../connectorLibraries';
import { ActionInputError, type ActionContext } from '../sdk';

const server = (defaultPort: number) =>
  z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(defaultPort),
    /** TLS from the first byte (993, 465). Without it, STARTTLS is required off loopback. */
    secure: z.boolean().default(true),
  });

/** Strict: a misspelt setting (`sentfolder`) is an error at its line, not a silent default. */
export const emailConfigSchema = z.strictObject({
  imap: server(993),
  smtp: server(465),
  /** The login name for both servers. */
  user: z.string().min(1),
  /** The From address: `name@example.com` or `Name <name@example.com>`. */
  from: z.string().min(3),
  /** Where sent mail is kept, and searched after a crash. */
  sentFolder: z.string().min(1).default('Sent'),
  /**
   * `append`: Keel puts the copy in sentFolder (most servers). `server`: the server files sent
   * mail itself (Gmail, some Exchange setups), and Keel only searches for it.
   */
  sentCopy: z.enum(['append', 'server']).default('append'),
  /** The folder `email.received` watches. */
  inbox: z.string().min(1).default('INBOX'),
});

export type EmailSettings = z.infer<typeof emailConfigSchema>;

type Context = Omit<ActionContext, 'idempotencyKey'>;

/**
 * The account's two servers, as the operator consents to them before Keel connects: each receives
 * the password (from the variable keel.yaml names, or the editor's secret storage). The scheme says
 * whether TLS starts at once, so a keel.yaml edit that drops it asks again. Settings that do not
 * parse name no endpoint: such an entry is no instance either, so nothing connects.
 */
export function emailTrustEndpoints(
  config: Record<string, unknown>,
  credentials: Record<string, CredentialSource>,
): TrustEndpoint[] {
  const parsed = emailConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  const password = credentials.password;
  const apiKeyEnv = password && 'env' in password ? password.env : null;
  const origin = (scheme: string, { host, port, secure }: EmailSettings['imap']) => {
    const name = host.toLowerCase();
    return `${scheme}${secure ? 's' : ''}://${name.includes(':') ? `[${name}]` : name}:${port}`;
  };
  return [
    { purpose: 'email', origin: origin('imap', parsed.data.imap), apiKeyEnv },
    { purpose: 'email', origin: origin('smtp', parsed.data.smtp), apiKeyEnv },
  ];
}

/** The connector's settings with defaults applied (the host validated them already). */
export function settings(ctx: Context): EmailSettings {
  const parsed = emailConfigSchema.safeParse(ctx.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EmailError(
      `email@1 settings in keel.yaml are invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** A failure of the email connector, with a message meant for the operator. */
export class EmailError extends Error {
  override name = 'EmailError';
}

/** The message cannot be sent as given (an attachment outside outbox/, missing, too large): never retried. */
export class EmailInputError extends ActionInputError {
  override name = 'EmailInputError';
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** Connects and logs in to IMAP, runs `use`, and logs out whatever happens. */
export async function withImap<T>(ctx: Context, use: (imap: ImapFlow) => Promise<T>): Promise<T> {
  const account = settings(ctx);
  const password = ctx.credential('password');
  const { ImapFlow } = connectorLibraries().imapflow();
  const imap = new ImapFlow({
    host: account.imap.host,
    port: account.imap.port,
    secure: account.imap.secure,
    // Off loopback the password must not cross the network in clear text.
    doSTARTTLS: !account.imap.secure && !LOOPBACK.test(account.imap.host) ? true : undefined,
    auth: { user: account.user, pass: password },
    logger: false,
    disableAutoIdle: true,
  });
  // A dropped connection is reported through the pending command; the event must not crash the daemon.
  imap.on('error', () => undefined);
  try {
    await imap.connect();
  } catch (error) {
    throw imapFailure(error, account, password);
  }
  try {
    return await use(imap);
  } catch (error) {
    if (error instanceof EmailError || error instanceof ActionInputError) throw error;
    throw imapFailure(error, account, password);
  } finally {
    await imap.logout().catch(() => imap.close());
  }
}

function imapFailure(error: unknown, account: EmailSettings, password: string): EmailError {
  const where = `IMAP ${account.imap.host}:${account.imap.port}`;
  const detail = error as {
    authenticationFailed?: boolean;
    responseText?: string;
    code?: string;
    message?: string;
  };
  if (detail.authenticationFailed) {
    return new EmailError(
      `${where} refused the login of ${account.user}` +
        `${detail.responseText ? ` (${redact(detail.responseText, password)})` : ''}: ` +
        'check the password credential of this connector and the user in keel.yaml.',
    );
  }
  const reason = redact(detail.responseText || detail.message || String(error), password);
  if (detail.code === 'ECONNREFUSED' || detail.code === 'ENOTFOUND' || detail.code === 'ETIMEDOUT') {
    return new EmailError(
      `${where} is not reachable (${detail.code}): check imap.host and imap.port in keel.yaml.`,
    );
  }
  return new EmailError(`${where}: ${reason}`);
}

/** An SMTP transport for one send; closed by the caller. */
export function smtpTransport(ctx: Context) {
  const account = settings(ctx);
  const { createTransport } = connectorLibraries().nodemailer();
  return createTransport({
    host: account.smtp.host,
    port: account.smtp.port,
    secure: account.smtp.secure,
    requireTLS: !account.smtp.secure && !LOOPBACK.test(account.smtp.host),
    auth: { user: account.user, pass: ctx.credential('password') },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

/** An SMTP error as the operator reads it: the server, its answer, and no password. */
export function smtpFailure(error: unknown, ctx: Context): EmailError {
  const account = settings(ctx);
  const where = `SMTP ${account.smtp.host}:${account.smtp.port}`;
  const detail = error as { code?: string; response?: string; message?: string };
  const reason = redact(detail.response || detail.message || String(error), ctx.credential('password'));
  if (detail.code === 'EAUTH') {
    return new EmailError(
      `${where} refused the login of ${account.user} (${reason}): check the password credential of this connector.`,
    );
  }
  return new EmailError(`${where}: ${reason}`);
}

export function redact(text: string, secret: string): string {
  return secret === '' ? text : text.split(secret).join('[password]');
}

/** The bare address of `Name <a@b>` or `a@b`. */
export function bareAddress(address: string): string {
  return (/<([^>]*)>\s*$/.exec(address)?.[1] ?? address).trim();
}
