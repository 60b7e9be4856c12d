/**
 * calendar@1's account: its settings from keel.yaml, and the CalDAV client made from them with the
 * `password` credential. Requests go only to the origin keel.yaml names (the one the operator
 * trusted): a redirect elsewhere is refused before anything follows it, so the password never
 * reaches another host. Every error that leaves here names the server and the fix and never
 * carries the password.
 */
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import type { DAVCalendar, DAVClient } from 'tsdav';
import { z } from 'zod';
import { connectorLibraries } from '../connectorLibraries';
import { ActionInputError, OutcomeUnknownError, type ActionContext } from '../sdk';

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, like 09:00');

/** Strict: a misspelt setting (`timezon`) is an error at its line, not a silent default. */
export const calendarConfigSchema = z.strictObject({
  /** The CalDAV server (discovery starts here) or the calendar collection itself. */
  url: z.string().url(),
  user: z.string().min(1),
  /** Which calendar: its display name or its URL path; default the first the server lists. */
  calendar: z.string().min(1).optional(),
  /** IANA zone for working hours and floating times. */
  timezone: z
    .string()
    .default('UTC')
    .refine((zone) => validZone(zone), 'must be an IANA time zone, like Europe/Berlin'),
  workingHours: z
    .strictObject({
      start: clock.default('09:00'),
      end: clock.default('17:00'),
      /** ISO weekdays: 1 = Monday ... 7 = Sunday. */
      days: z.array(z.number().int().min(1).max(7)).default([1, 2, 3, 4, 5]),
    })
    .default({ start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] }),
  /** `calendar.upcoming` fires this many minutes before an event starts. */
  notifyMinutesBefore: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(15),
  /** The organizer address written on events with attendees (invitations). */
  organizer: z.string().email().optional(),
});

export type CalendarSettings = z.infer<typeof calendarConfigSchema>;
export type Context = Omit<ActionContext, 'idempotencyKey'>;

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A calendar's display name when the server gives it as text (some give an object), else its path. */
export function calendarName(calendar: DAVCalendar): string {
  return typeof calendar.displayName === 'string' ? calendar.displayName : new URL(calendar.url).pathname;
}

/** A failure of the calendar connector, with a message meant for the operator. */
export class CalendarError extends Error {
  override name = 'CalendarError';
}

/** The input cannot be carried out as given (an end before its start): never retried. */
export class CalendarInputError extends ActionInputError {
  override name = 'CalendarInputError';
}

/** `scheme://host:port` of a URL, as the operator trusts it. */
export function originOf(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.protocol.replace(/:$/, '')}://${parsed.hostname.toLowerCase()}:${port}`;
}

/** The server the operator consents to before Keel sends it the password. */
export function calendarTrustEndpoints(
  config: Record<string, unknown>,
  credentials: Record<string, CredentialSource>,
): TrustEndpoint[] {
  const parsed = calendarConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  const password = credentials.password;
  const apiKeyEnv = password && 'env' in password ? password.env : null;
  return [{ purpose: 'calendar', origin: originOf(parsed.data.url), apiKeyEnv }];
}

/** The connector's settings with defaults applied. */
export function settings(ctx: Context): CalendarSettings {
  const parsed = calendarConfigSchema.safeParse(ctx.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CalendarError(
      `calendar@1 settings in keel.yaml are invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i;

/**
 * A fetch that stays on `origin`: requests elsewhere are refused, and redirects are never
 * followed by fetch itself. A redirect within the origin is handed to tsdav (its discovery reads
 * `/.well-known/caldav`'s Location and asks there, through this fetch again); one to another
 * origin is refused, so no server, nor whoever answers for it, can send Keel with the password to
 * another host. `signal` aborts the request.
 */
export function originBoundFetch(origin: string, signal: AbortSignal): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (originOf(url.href) !== origin) {
      throw new CalendarError(
        `calendar@1 refused to send a request to ${originOf(url.href)}: only ${origin} (keel.yaml's url) is trusted.`,
      );
    }
    const response = await sendOnce(input, init, signal);
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location') ?? '';
      let target: string;
      try {
        target = originOf(new URL(location, url).href);
      } catch {
        target = '(an unreadable Location)';
      }
      if (target !== origin) {
        throw new CalendarError(
          `The CalDAV server ${origin} redirected to ${target}; Keel does not follow redirects to another ` +
            'host (the password would go along): set url in keel.yaml to that server, if you trust it.',
        );
      }
    }
    return response;
  };
}

/** Methods that change nothing: sent again when the connection dropped before an answer. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'REPORT']);
const READ_ATTEMPTS = 3;

/**
 * One request. A kept-alive connection the server closed meanwhile fails with "fetch failed"
 * before any answer: a read is simply sent again; for a write it is unknown whether the server
 * did it, so it fails as OutcomeUnknownError and the host asks `find` before trying again.
 */
async function sendOnce(
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
  signal: AbortSignal,
) {
  const method = (init?.method ?? 'GET').toUpperCase();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(input, { ...init, redirect: 'manual', signal });
    } catch (error) {
      if (signal.aborted || !(error instanceof TypeError) || error.message !== 'fetch failed') throw error;
      if (!READS.has(method)) {
        throw new OutcomeUnknownError(
          `The CalDAV server's connection dropped during a ${method} (${(error as { cause?: { code?: string } }).cause?.code ?? error.message}); Keel will ask the server whether it happened.`,
        );
      }
      if (attempt >= READ_ATTEMPTS) throw error;
    }
  }
}

export interface CalendarSession {
  client: DAVClient;
  calendar: DAVCalendar;
  account: CalendarSettings;
  password: string;
}

/** Logs in (service discovery from `url`) and picks the configured calendar. */
export async function openCalendar(ctx: Context): Promise<CalendarSession> {
  const account = settings(ctx);
  const password = ctx.credential('password');
  const url = new URL(account.url);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) {
    throw new CalendarError(
      `calendar@1 will not send the password in clear text to ${url.host}: use an https:// url in keel.yaml.`,
    );
  }
  const { DAVClient } = connectorLibraries().tsdav();
  const client = new DAVClient({
    serverUrl: account.url,
    credentials: { username: account.user, password },
    authMethod: 'Basic',
    defaultAccountType: 'caldav',
    fetch: originBoundFetch(originOf(account.url), ctx.signal),
  });
  try {
    await client.login();
    const calendars = await client.fetchCalendars();
    const wanted = account.calendar;
    const calendar = wanted
      ? calendars.find((c) => calendarName(c) === wanted || new URL(c.url).pathname === wanted)
      : calendars[0];
    if (!calendar) {
      const names = calendars.map((c) => `${calendarName(c)} (${new URL(c.url).pathname})`);
      throw new CalendarError(
        `The CalDAV server ${url.host} has no calendar ${wanted ? `"${wanted}"` : 'for this user'} ` +
          `(it has: ${names.join(', ') || 'none'}): set calendar in keel.yaml.`,
      );
    }
    return { client, calendar, account, password };
  } catch (error) {
    throw davFailure(error, account, password);
  }
}

/** Runs `use` with a session; turns any failure into a CalendarError without the password. */
export async function withCalendar<T>(
  ctx: Context,
  use: (session: CalendarSession) => Promise<T>,
): Promise<T> {
  const session = await openCalendar(ctx);
  try {
    return await use(session);
  } catch (error) {
    throw davFailure(error, session.account, session.password);
  }
}

export function davFailure(error: unknown, account: CalendarSettings, password: string): Error {
  if (error instanceof ActionInputError || error instanceof OutcomeUnknownError) return error;
  const where = `CalDAV ${new URL(account.url).host}`;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof CalendarError) return new CalendarError(redact(message, password));
  if (/401|Unauthorized|Invalid credentials/i.test(message)) {
    return new CalendarError(
      `${where} refused the login of ${account.user}: check the password credential of this connector and the user in keel.yaml.`,
    );
  }
  const code = (error as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return new CalendarError(`${where} is not reachable (${code}): check url in keel.yaml.`);
  }
  return new CalendarError(`${where}: ${redact(message, password).slice(0, 500)}`);
}

export function redact(text: string, secret: string): string {
  if (secret === '') return text;
  const basic = Buffer.from(secret).toString('base64');
  return text.split(secret).join('[password]').split(basic).join('[password]');
}

/** Throws a CalDAV answer that is not a success as a CalendarError naming the status. */
export async function expectOk(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  const body = (await response.text().catch(() => '')).slice(0, 300);
  throw new CalendarError(`${what} failed: HTTP ${response.status} ${response.statusText} ${body}`.trim());
}
