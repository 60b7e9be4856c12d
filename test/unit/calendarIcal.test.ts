/**
 * calendar@1's pure parts: reading and writing iCalendar (unfolding, escaping, UTC/TZID/floating/
 * all-day times, durations, alarms skipped), the time-zone arithmetic behind working hours (across
 * a DST change), free slots, the event cursor, and the review YAML round trip.
 */
import { describe, expect, it } from 'vitest';
import { describeEndpoint } from '@keel/schemas';
import {
  buildCalendar,
  fold,
  parseDuration,
  parseEvents,
  unfold,
  withTimes,
} from '../../daemon/src/connectors/calendar/ical';
import { freeSlots } from '../../daemon/src/connectors/calendar/read';
import { fromReviewYaml } from '../../daemon/src/connectors/calendar/review';
import { formatCursor, parseCursor } from '../../daemon/src/connectors/calendar/upcoming';
import { createAction, createInputSchema } from '../../daemon/src/connectors/calendar/write';
import { zonedInstant } from '../../daemon/src/connectors/calendar/zone';

describe('iCalendar', () => {
  it('writes an event that reads back the same, text escaped and long lines folded', () => {
    const text = buildCalendar({
      uid: 'keel-1',
      summary: 'Plan; review, and ship',
      description: `Line one\nLine two with a backslash \\ and ${'long '.repeat(40)}`,
      start: Date.UTC(2031, 0, 2, 9),
      end: Date.UTC(2031, 0, 2, 10),
      organizer: 'alice@example.com',
      attendees: [{ email: 'dana@example.org', name: 'Dana "D"' }],
    });
    expect(text.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
    expect(unfold(text)).toContain(
      'ATTENDEE;CN="Dana D";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dana@example.org',
    );
    const [event] = parseEvents(text, 'UTC');
    expect(event).toMatchObject({
      uid: 'keel-1',
      summary: 'Plan; review, and ship',
      start: Date.UTC(2031, 0, 2, 9),
      end: Date.UTC(2031, 0, 2, 10),
      organizer: 'alice@example.com',
      attendees: [{ email: 'dana@example.org', name: 'Dana D', status: 'NEEDS-ACTION' }],
      allDay: false,
    });
    expect(event!.description.startsWith('Line one\nLine two with a backslash \\ and long')).toBe(true);
  });

  it('folds without splitting a multi-byte character', () => {
    const line = `SUMMARY:${'é'.repeat(60)}`;
    const folded = fold(line);
    expect(folded.split('\r\n ').join('')).toBe(line);
    expect(folded.split('\r\n').every((part) => Buffer.byteLength(part) <= 75)).toBe(true);
  });

  it('reads TZID, floating and all-day times, DURATION, and skips an alarm inside the event', () => {
    const text = [
      'BEGIN:VCALENDAR',
      'BEGIN:VEVENT',
      'UID:a',
      'DTSTART;TZID=Europe/Berlin:20310115T100000',
      'DURATION:PT1H30M',
      'BEGIN:VALARM',
      'DESCRIPTION:not the event',
      'END:VALARM',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:b',
      'DTSTART:20310715T100000',
      'DTEND:20310715T110000',
      'RRULE:FREQ=WEEKLY',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:c',
      'DTSTART;VALUE=DATE:20310716',
      'SUMMARY:Holi',
      ' day',
      'END:VEVENT',
      'END:VCALENDAR',
    ].join('\r\n');
    const [a, b, c] = parseEvents(text, 'America/New_York');
    expect(a).toMatchObject({
      start: Date.UTC(2031, 0, 15, 9),
      end: Date.UTC(2031, 0, 15, 10, 30),
      description: '',
    });
    // Floating: the account's zone (New York in July is UTC-4).
    expect(b).toMatchObject({ start: Date.UTC(2031, 6, 15, 14), recurring: true });
    expect(c).toMatchObject({
      allDay: true,
      summary: 'Holiday',
      start: Date.UTC(2031, 6, 16, 4),
      end: Date.UTC(2031, 6, 17, 4),
    });
    expect(parseDuration('P1W2DT3H')).toBe((9 * 24 + 3) * 3_600_000);
  });

  it('moves an event keeping everything else, raising SEQUENCE and marking the move', () => {
    const original = buildCalendar({
      uid: 'm',
      summary: 'S',
      start: Date.UTC(2031, 0, 1, 9),
      end: Date.UTC(2031, 0, 1, 10),
      attendees: [],
      sequence: 2,
    });
    const moved = withTimes(original, Date.UTC(2031, 0, 1, 13), Date.UTC(2031, 0, 1, 14), 'k/a/b');
    const [event] = parseEvents(moved, 'UTC');
    expect(event).toMatchObject({
      uid: 'm',
      summary: 'S',
      start: Date.UTC(2031, 0, 1, 13),
      keelMove: 'k/a/b',
    });
    expect(unfold(moved)).toContain('SEQUENCE:3');
    expect(unfold(moved).filter((line) => line.startsWith('DTSTART'))).toHaveLength(1);
  });
});

describe('working hours and free slots', () => {
  it('finds local times across a DST change', () => {
    // Berlin switches to summer time on 2031-03-30.
    expect(zonedInstant('Europe/Berlin', { year: 2031, month: 3, day: 29, hour: 9 })).toBe(
      Date.UTC(2031, 2, 29, 8),
    );
    expect(zonedInstant('Europe/Berlin', { year: 2031, month: 3, day: 31, hour: 9 })).toBe(
      Date.UTC(2031, 2, 31, 7),
    );
  });

  it('lists working-hours stretches on working days minus busy time', () => {
    const account = {
      timezone: 'Europe/Berlin',
      workingHours: { start: '09:00', end: '12:00', days: [1, 2, 3, 4, 5] },
    };
    // Friday 2031-03-28 to Tuesday 2031-04-01 (the weekend and its DST change in between).
    const from = Date.UTC(2031, 2, 28, 0);
    const to = Date.UTC(2031, 3, 1, 0);
    const busy = [{ start: Date.UTC(2031, 2, 28, 9), end: Date.UTC(2031, 2, 28, 10) }];
    const slots = freeSlots(account, { from, to }, busy, 60 * 60_000);
    expect(slots).toEqual([
      [Date.UTC(2031, 2, 28, 8), Date.UTC(2031, 2, 28, 9)],
      [Date.UTC(2031, 2, 28, 10), Date.UTC(2031, 2, 28, 11)],
      [Date.UTC(2031, 2, 31, 7), Date.UTC(2031, 2, 31, 10)],
    ]);
  });
});

describe('cursor and review', () => {
  it('keeps what fired and refuses a cursor it cannot read', () => {
    const fired = [{ key: 'a@20310101T090000Z', start: 1 }];
    expect(parseCursor(formatCursor(fired))).toEqual(fired);
    expect(() => parseCursor('imap1:1:2:3')).toThrow(/cannot read its event cursor/);
  });

  it('reads an edited event back through its schema, naming a bad field', () => {
    const input = createInputSchema.parse({
      summary: 'A',
      start: '2031-01-01T09:00:00Z',
      end: '2031-01-01T10:00:00Z',
    });
    const document = createAction.review(input);
    expect(document.language).toBe('yaml');
    const edited = fromReviewYaml(
      createInputSchema,
      document.text.replace('summary: A', 'summary: B'),
      'event',
    );
    expect(edited.summary).toBe('B');
    expect(() =>
      fromReviewYaml(createInputSchema, document.text.replace(/start: .*/, 'start: tomorrow'), 'event'),
    ).toThrow(/not valid at start/);
  });

  it('asks for trust in words naming the CalDAV server and where the password comes from', () => {
    expect(
      describeEndpoint({ purpose: 'calendar', origin: 'https://cal.example.com:443', apiKeyEnv: 'KEEL_CAL' }),
    ).toBe(
      'Log in to the CalDAV server https://cal.example.com:443 with the password in the environment variable KEEL_CAL, and read or change events there.',
    );
  });
});
