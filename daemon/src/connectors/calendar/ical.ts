/**
 * The little of iCalendar (RFC 5545) calendar@1 reads and writes: VEVENTs with UID, SUMMARY,
 * DESCRIPTION, LOCATION, DTSTART/DTEND/DURATION (UTC, TZID, floating, all-day), STATUS, ORGANIZER
 * and ATTENDEE. Text read here comes from a server and whoever invited the user: it is data only,
 * size-limited, never instructions. Recurring events are read as their first occurrence (RRULE
 * expansion is left to a later version; `recurring: true` says so).
 */
import { CalendarError } from './account';
import { zonedInstant } from './zone';

/** Characters kept of a description or summary (the rest is cut, with a mark). */
export const TEXT_LIMIT = 4000;

export interface Attendee {
  email: string;
  name?: string;
  status?: string;
}

export interface ParsedEvent {
  uid: string;
  summary: string;
  description: string;
  location: string;
  start: number;
  end: number;
  allDay: boolean;
  status: string | null;
  organizer: string | null;
  attendees: Attendee[];
  recurring: boolean;
  /** Keel's own mark of its last move (see withTimes), or null. */
  keelMove: string | null;
}

interface Property {
  name: string;
  params: Record<string, string>;
  value: string;
}

/** Unfolded content lines (a line starting with a space or tab continues the one before). */
export function unfold(text: string): string[] {
  return text
    .replace(/\r\n|\r/g, '\n')
    .replace(/\n[ \t]/g, '')
    .split('\n')
    .filter((line) => line !== '');
}

function property(line: string): Property {
  let i = 0;
  let quoted = false;
  for (; i < line.length; i++) {
    const char = line[i];
    if (char === '"') quoted = !quoted;
    else if (char === ':' && !quoted) break;
  }
  const [name = '', ...rawParams] = line.slice(0, i).split(';');
  const params: Record<string, string> = {};
  for (const raw of rawParams) {
    const eq = raw.indexOf('=');
    if (eq > 0) params[raw.slice(0, eq).toUpperCase()] = raw.slice(eq + 1).replace(/^"|"$/g, '');
  }
  return { name: name.toUpperCase(), params, value: line.slice(i + 1) };
}

export function unescapeText(value: string): string {
  return value.replace(/\\([nN\\;,])/g, (_match, char: string) =>
    char === 'n' || char === 'N' ? '\n' : char,
  );
}

export function escapeText(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

function limited(text: string): string {
  return text.length > TEXT_LIMIT ? `${text.slice(0, TEXT_LIMIT)} [cut at ${TEXT_LIMIT} characters]` : text;
}

/** A DATE or DATE-TIME value as an instant; `zone` for floating times. */
export function parseTime(prop: Property, zone: string): { at: number; allDay: boolean } {
  const date = /^(\d{4})(\d{2})(\d{2})$/.exec(prop.value);
  if (date || prop.params.VALUE === 'DATE') {
    const [, y, m, d] = date ?? /^(\d{4})(\d{2})(\d{2})/.exec(prop.value) ?? [];
    return { at: zonedInstant(zone, { year: +y!, month: +m!, day: +d! }), allDay: true };
  }
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/.exec(prop.value);
  if (!match) throw new CalendarError(`The calendar has a ${prop.name} "${prop.value}" Keel cannot read.`);
  const [, y, m, d, h, mi, s, utc] = match;
  const local = { year: +y!, month: +m!, day: +d!, hour: +h!, minute: +mi!, second: +s! };
  if (utc)
    return {
      at: Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second),
      allDay: false,
    };
  const tzid = prop.params.TZID;
  let where = zone;
  if (tzid) {
    try {
      zonedInstant(tzid, local);
      where = tzid;
    } catch {
      // A custom TZID (not IANA, e.g. "W. Europe Standard Time"): read in the account's zone.
    }
  }
  return { at: zonedInstant(where, local), allDay: false };
}

/** An RFC 5545 DURATION (`PT1H30M`, `P1D`) in ms. */
export function parseDuration(value: string): number {
  const match = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!match) throw new CalendarError(`The calendar has a DURATION "${value}" Keel cannot read.`);
  const [, sign, w, d, h, m, s] = match.map((part) => part ?? '0');
  const ms = ((+w! * 7 + +d!) * 86_400 + +h! * 3600 + +m! * 60 + +s!) * 1000;
  return sign === '-' ? -ms : ms;
}

function address(value: string): string {
  return value.replace(/^mailto:/i, '');
}

/** Every VEVENT in a calendar object (alarms and other components inside are skipped). */
export function parseEvents(text: string, zone: string): ParsedEvent[] {
  const events: ParsedEvent[] = [];
  let current: Property[] | null = null;
  let nested = 0;
  for (const line of unfold(text)) {
    const prop = property(line);
    if (prop.name === 'BEGIN' && prop.value.toUpperCase() === 'VEVENT' && current === null) current = [];
    else if (prop.name === 'BEGIN' && current !== null) nested++;
    else if (prop.name === 'END' && current !== null && nested > 0) nested--;
    else if (prop.name === 'END' && prop.value.toUpperCase() === 'VEVENT' && current !== null) {
      events.push(toEvent(current, zone));
      current = null;
    } else if (current !== null && nested === 0) current.push(prop);
  }
  return events;
}

function toEvent(props: Property[], zone: string): ParsedEvent {
  const one = (name: string) => props.find((prop) => prop.name === name);
  const startProp = one('DTSTART');
  const uid = one('UID')?.value;
  if (!startProp || !uid) throw new CalendarError('The calendar has an event without UID or DTSTART.');
  const start = parseTime(startProp, zone);
  const endProp = one('DTEND');
  const duration = one('DURATION');
  const end = endProp
    ? parseTime(endProp, zone).at
    : duration
      ? start.at + parseDuration(duration.value)
      : start.at + (start.allDay ? 86_400_000 : 0);
  return {
    uid,
    summary: limited(unescapeText(one('SUMMARY')?.value ?? '')),
    description: limited(unescapeText(one('DESCRIPTION')?.value ?? '')),
    location: limited(unescapeText(one('LOCATION')?.value ?? '')),
    start: start.at,
    end,
    allDay: start.allDay,
    status: one('STATUS')?.value.toUpperCase() ?? null,
    organizer: one('ORGANIZER') ? address(one('ORGANIZER')!.value) : null,
    attendees: props
      .filter((prop) => prop.name === 'ATTENDEE')
      .map((prop) => ({
        email: address(prop.value),
        ...(prop.params.CN ? { name: prop.params.CN } : {}),
        ...(prop.params.PARTSTAT ? { status: prop.params.PARTSTAT } : {}),
      })),
    recurring: props.some((prop) => prop.name === 'RRULE' || prop.name === 'RDATE'),
    keelMove: one(MOVE_MARK)?.value ?? null,
  };
}

/** A UTC DATE-TIME value: 20261203T090000Z. */
export function utcStamp(at: number): string {
  return new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Folds a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 sequence. */
export function fold(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const char of line) {
    const size = Buffer.byteLength(char);
    if (octets + size > (out.length === 0 ? 75 : 74)) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += char;
    octets += size;
  }
  out.push(current);
  return out.join('\r\n ');
}

/** A parameter value: quoted, with the characters iCalendar cannot carry there dropped. */
function param(value: string): string {
  return `"${value.replace(/["\r\n]/g, '')}"`;
}

export interface NewEvent {
  uid: string;
  summary: string;
  description?: string;
  location?: string;
  start: number;
  end: number;
  organizer?: string;
  attendees: { email: string; name?: string }[];
  sequence?: number;
}

/** A whole VCALENDAR holding this event; attendees become ATTENDEE lines asking for a reply. */
export function buildCalendar(event: NewEvent, now = Date.now()): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Keel//calendar@1//EN',
    ...(event.attendees.length > 0 ? ['METHOD:REQUEST'] : []),
    'BEGIN:VEVENT',
    `UID:${event.uid}`,
    `DTSTAMP:${utcStamp(now)}`,
    `DTSTART:${utcStamp(event.start)}`,
    `DTEND:${utcStamp(event.end)}`,
    `SEQUENCE:${event.sequence ?? 0}`,
    `SUMMARY:${escapeText(event.summary)}`,
    ...(event.description ? [`DESCRIPTION:${escapeText(event.description)}`] : []),
    ...(event.location ? [`LOCATION:${escapeText(event.location)}`] : []),
    ...(event.organizer && event.attendees.length > 0 ? [`ORGANIZER:mailto:${event.organizer}`] : []),
    ...event.attendees.map(
      (attendee) =>
        `ATTENDEE;${attendee.name ? `CN=${param(attendee.name)};` : ''}ROLE=REQ-PARTICIPANT;` +
        `PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${attendee.email}`,
    ),
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return `${lines.map(fold).join('\r\n')}\r\n`;
}

/** The property in which a move keeps its key and the times it moved from, for `find` and undo. */
export const MOVE_MARK = 'X-KEEL-MOVE';

/**
 * The same calendar object with the first VEVENT at new times (DTSTART/DTEND in UTC, DURATION
 * dropped, SEQUENCE raised, DTSTAMP now, `mark` as X-KEEL-MOVE): everything else the object holds
 * stays as it was.
 */
export function withTimes(text: string, start: number, end: number, mark: string, now = Date.now()): string {
  const out: string[] = [];
  let depth = 0;
  let inEvent = false;
  let done = false;
  let sequence = 0;
  for (const line of unfold(text)) {
    const prop = property(line);
    if (prop.name === 'BEGIN') depth++;
    if (prop.name === 'BEGIN' && prop.value.toUpperCase() === 'VEVENT' && !done) inEvent = true;
    const own = inEvent && depth === 2;
    if (own && ['DTSTART', 'DTEND', 'DURATION', 'DTSTAMP', 'SEQUENCE', MOVE_MARK].includes(prop.name)) {
      if (prop.name === 'SEQUENCE') sequence = Number(prop.value) || 0;
      continue;
    }
    if (prop.name === 'END' && prop.value.toUpperCase() === 'VEVENT' && inEvent && depth === 2) {
      out.push(`DTSTAMP:${utcStamp(now)}`, `DTSTART:${utcStamp(start)}`, `DTEND:${utcStamp(end)}`);
      out.push(`SEQUENCE:${sequence + 1}`, `${MOVE_MARK}:${mark}`);
      inEvent = false;
      done = true;
    }
    if (prop.name === 'END') depth--;
    out.push(line);
  }
  return `${out.map(fold).join('\r\n')}\r\n`;
}
