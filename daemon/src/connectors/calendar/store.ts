/**
 * calendar@1's view of the calendar collection: events in a time range (the server filters by
 * CalDAV calendar-query), and the one object holding a UID (a calendar-query on UID: it finds
 * the events Keel made, named `<uid>.ics`, and those other clients made under any name; a
 * multiget of a missing name would fail the whole request on some servers, Radicale among them).
 */
import type { DAVCalendarObject } from 'tsdav';
import { z } from 'zod';
import { CalendarError, type CalendarSession } from './account';
import { parseEvents, type ParsedEvent } from './ical';

/** Events returned at most by one read (the nearest first). */
export const EVENTS_LIMIT = 200;

export const eventSchema = z.object({
  uid: z.string(),
  summary: z.string().describe('Untrusted: written by whoever made or sent the event.'),
  description: z.string().describe('Untrusted: written by whoever made or sent the event.'),
  location: z.string(),
  start: z.string().describe('ISO 8601, UTC'),
  end: z.string(),
  allDay: z.boolean(),
  status: z.string().nullable(),
  organizer: z.string().nullable(),
  attendees: z.array(
    z.object({ email: z.string(), name: z.string().optional(), status: z.string().optional() }),
  ),
  recurring: z.boolean().describe('Recurring events are listed by their first occurrence only.'),
});
export type CalendarEvent = z.infer<typeof eventSchema>;

export function toOutput(event: ParsedEvent): CalendarEvent {
  const { keelMove: _mark, ...shown } = event;
  return { ...shown, start: new Date(event.start).toISOString(), end: new Date(event.end).toISOString() };
}

export interface StoredEvent {
  object: DAVCalendarObject;
  event: ParsedEvent;
}

/** Events overlapping [start, end), nearest first, cancelled ones left out. */
export async function eventsBetween(
  session: CalendarSession,
  start: number,
  end: number,
): Promise<ParsedEvent[]> {
  const objects = await session.client.fetchCalendarObjects({
    calendar: session.calendar,
    timeRange: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
  });
  const events = objects.flatMap((object) =>
    parseEvents(String(object.data ?? ''), session.account.timezone),
  );
  return events
    .filter((event) => event.status !== 'CANCELLED')
    .filter(
      (event) =>
        event.start < end && (event.end > start || (event.end === event.start && event.start >= start)),
    )
    .sort((a, b) => a.start - b.start || a.uid.localeCompare(b.uid))
    .slice(0, EVENTS_LIMIT);
}

/** The object Keel names for a UID it chose: `<calendar>/<uid>.ics`. */
export function objectUrl(session: CalendarSession, uid: string): string {
  return new URL(`${encodeURIComponent(uid)}.ics`, session.calendar.url.replace(/\/?$/, '/')).href;
}

/** The stored event with this UID, or null when the calendar has none. */
export async function findByUid(session: CalendarSession, uid: string): Promise<StoredEvent | null> {
  const queried = await session.client.fetchCalendarObjects({
    calendar: session.calendar,
    filters: [
      {
        'comp-filter': {
          _attributes: { name: 'VCALENDAR' },
          'comp-filter': {
            _attributes: { name: 'VEVENT' },
            'prop-filter': {
              _attributes: { name: 'UID' },
              'text-match': { _attributes: { collation: 'i;octet' }, _text: uid },
            },
          },
        },
      },
    ],
  });
  return pick(queried, uid, session);
}

function pick(objects: DAVCalendarObject[], uid: string, session: CalendarSession): StoredEvent | null {
  for (const object of objects) {
    if (typeof object.data !== 'string' || object.data === '') continue;
    const event = parseEvents(object.data, session.account.timezone).find(
      (candidate) => candidate.uid === uid,
    );
    if (event) return { object, event };
  }
  return null;
}

/** Like findByUid, but a missing event is an error naming the UID. */
export async function requireByUid(session: CalendarSession, uid: string): Promise<StoredEvent> {
  const found = await findByUid(session, uid);
  if (!found) {
    throw new CalendarError(
      `The calendar has no event with UID ${uid}: it was deleted or never made; check the UID (upcoming lists them).`,
    );
  }
  return found;
}
