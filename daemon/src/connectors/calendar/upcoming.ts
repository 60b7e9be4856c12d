/**
 * `calendar.upcoming`: an event is about to start (within keel.yaml's `notifyMinutesBefore`),
 * found by polling. It fires once per event UID and start time: the cursor the host keeps after
 * every poll lists what fired (`<uid>@<start>`), so a restart does not fire it again, and an event
 * moved to a new time fires again for that time. Entries of events that started a day ago are
 * dropped (they can never be due again), which keeps the cursor small.
 */
import { z } from 'zod';
import type { ConnectorEvent, EventSource } from '../sdk';
import { CalendarError, settings, withCalendar } from './account';
import { utcStamp } from './ical';
import { eventSchema, eventsBetween, toOutput } from './store';

export const CALENDAR_UPCOMING = 'calendar.upcoming';
/** Fired keys the cursor keeps at most (the oldest go first). */
export const CURSOR_LIMIT = 500;
const KEEP_MS = 86_400_000;

export const upcomingPayloadSchema = eventSchema.extend({
  startsInMinutes: z.number().describe('Minutes from when it fired until the event starts.'),
});

export const upcomingEvent: ConnectorEvent = {
  description:
    'An event starts within notifyMinutesBefore (keel.yaml, default 15): uid, summary, description ' +
    '(untrusted data), location, start, end, attendees, organizer, startsInMinutes. Once per event and start time.',
  payload: upcomingPayloadSchema,
};

interface Fired {
  key: string;
  start: number;
}

export function formatCursor(fired: Fired[]): string {
  return `cal1:${JSON.stringify(fired.map((entry) => [entry.key, entry.start]))}`;
}

export function parseCursor(text: string): Fired[] {
  try {
    if (!text.startsWith('cal1:')) throw new Error('no cal1: prefix');
    const entries = JSON.parse(text.slice(5)) as unknown;
    if (!Array.isArray(entries)) throw new Error('not a list');
    return entries.map((entry) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number')
        throw new Error('bad entry');
      return { key: entry[0], start: entry[1] };
    });
  } catch {
    throw new CalendarError(
      `calendar@1 cannot read its event cursor "${text.slice(0, 80)}"; reset the connector's cursor.`,
    );
  }
}

export const upcomingSource: EventSource = {
  poll: async (cursorText, ctx) => {
    const before = settings(ctx).notifyMinutesBefore * 60_000;
    const fired = cursorText === null ? [] : parseCursor(cursorText);
    const now = Date.now();
    const seen = new Set(fired.map((entry) => entry.key));
    const due = await withCalendar(ctx, (session) => eventsBetween(session, now, now + before + 1));
    const events = [];
    for (const event of due) {
      // Not yet started and within the notice: an event that already began is not "upcoming".
      if (event.start < now || event.start > now + before) continue;
      const key = `${event.uid}@${utcStamp(event.start)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      fired.push({ key, start: event.start });
      events.push({
        name: CALENDAR_UPCOMING,
        id: key,
        payload: { ...toOutput(event), startsInMinutes: Math.round((event.start - now) / 60_000) },
      });
    }
    const kept = fired.filter((entry) => entry.start > now - KEEP_MS).slice(-CURSOR_LIMIT);
    return { events, cursor: formatCursor(kept) };
  },
};
