/**
 * calendar@1's probe: logs in (discovery), finds the configured calendar, and reads a day of its
 * events through the same parser the actions use, checked against `upcoming`'s output schema, so
 * a server whose answers no longer parse (or parse to another shape) fails here first, naming the
 * field. Reports the server's `Server` header as the version where it sends one.
 */
import type { ActionContext, ProbeResult } from '../sdk';
import { calendarName, originBoundFetch, originOf, redact, settings, withCalendar } from './account';
import { checkSample } from '../probeCheck';
import { upcomingOutputSchema } from './read';
import { eventsBetween, toOutput } from './store';

type Context = Omit<ActionContext, 'idempotencyKey'>;

export async function probeCalendar(ctx: Context): Promise<ProbeResult> {
  const checkedAt = new Date().toISOString();
  try {
    const account = settings(ctx);
    const { name, count } = await withCalendar(ctx, async (session) => {
      const events = await eventsBetween(session, Date.now(), Date.now() + 86_400_000);
      const checked = checkSample('calendar.upcoming (next 24 h)', upcomingOutputSchema, {
        events: events.map(toOutput),
      });
      return { name: calendarName(session.calendar), count: checked.events.length };
    });
    const version = await serverHeader(account.url, ctx.signal);
    return {
      ok: true,
      detail: `CalDAV ${new URL(account.url).host} as ${account.user}: calendar "${name}", ${count} events in the next 24 h`,
      ...(version ? { version } : {}),
      checkedAt,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    let secret = '';
    try {
      secret = ctx.credential('password');
    } catch {
      // An unset credential is itself the failure being reported.
    }
    return { ok: false, detail: redact(message, secret), checkedAt };
  }
}

/** The server's own name (`Server:` of an unauthenticated OPTIONS), or null. */
async function serverHeader(url: string, signal: AbortSignal): Promise<string | null> {
  try {
    const response = await originBoundFetch(originOf(url), signal)(url, { method: 'OPTIONS' });
    return response.headers.get('server')?.slice(0, 200) ?? null;
  } catch {
    return null;
  }
}
