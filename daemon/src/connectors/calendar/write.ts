/**
 * calendar@1's external actions, each exactly once per idempotency key:
 *
 * - `create`: the event's UID (and its file name) comes from the key, so every attempt is the
 *   same event; `find` asks the server for that UID after a crash. Attendees become ATTENDEE
 *   lines (RSVP requested), the invitation the server or the attendees' clients act on. Undo:
 *   `cancel`.
 * - `move`: writes the new times with an X-KEEL-MOVE mark holding a hash of the key and the
 *   times it moved from, so `find` recognises its own move after a crash and its undo (a move
 *   back) still knows where. The write is conditional on the ETag read (If-Match): a concurrent
 *   change by another client is an error, not overwritten.
 * - `cancel`: deletes the event; a UID already gone counts as done (there is nothing to undo).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ActionContext, ConnectorAction } from '../sdk';
import { CalendarError, CalendarInputError, expectOk, withCalendar } from './account';
import { buildCalendar, utcStamp, withTimes } from './ical';
import { fromReviewYaml, reviewYaml } from './review';
import { findByUid, objectUrl, requireByUid, type StoredEvent } from './store';

const instant = z.string().datetime({ offset: true });

/** `keel-<hash>`: the same for every attempt with one idempotency key, safe in a URL. */
export function eventUidFor(key: string): string {
  return `keel-${createHash('sha256').update(`calendar@1:${key}`).digest('hex').slice(0, 32)}`;
}

function keyMark(key: string): string {
  return createHash('sha256').update(`calendar@1 move:${key}`).digest('hex').slice(0, 16);
}

function times(input: { start: string; end: string }): { start: number; end: number } {
  const start = Date.parse(input.start);
  const end = Date.parse(input.end);
  if (!(end > start))
    throw new CalendarInputError(`The event ends (${input.end}) before it starts (${input.start}).`);
  return { start, end };
}

export const createInputSchema = z.strictObject({
  summary: z.string().min(1).max(500),
  description: z.string().max(20_000).default(''),
  location: z.string().max(500).default(''),
  start: instant,
  end: instant,
  attendees: z
    .array(z.strictObject({ email: z.string().email(), name: z.string().max(200).optional() }))
    .max(100)
    .default([]),
});
export type CreateInput = z.infer<typeof createInputSchema>;
export const createOutputSchema = z.object({
  uid: z.string(),
  url: z.string(),
  start: z.string(),
  end: z.string(),
  attendees: z.array(z.string()),
  resumed: z.boolean(),
});
export type CreateOutput = z.infer<typeof createOutputSchema>;

function created(stored: StoredEvent, resumed: boolean): CreateOutput {
  return {
    uid: stored.event.uid,
    url: stored.object.url,
    start: new Date(stored.event.start).toISOString(),
    end: new Date(stored.event.end).toISOString(),
    attendees: stored.event.attendees.map((attendee) => attendee.email),
    resumed,
  };
}

export const createAction: ConnectorAction<CreateInput, CreateOutput> = {
  description:
    'Creates a calendar event (summary, start, end as ISO times, optional description, location, ' +
    'attendees [{email, name}] who are invited). Undo: cancel.',
  risk: 'external',
  input: createInputSchema,
  output: createOutputSchema,
  review: (input) => reviewYaml(`Calendar event: ${input.summary} (${input.start})`, input),
  fromReview: (text) => fromReviewYaml(createInputSchema, text, 'event'),
  // Rules read the attendees as a list of addresses (`attendees: { in: team }`).
  policy: (input) => ({ arguments: { ...input, attendees: input.attendees.map((a) => a.email) } }),
  undo: { action: 'cancel', input: (_input, output) => ({ uid: output.uid }) },
  find: (_input, ctx) =>
    withCalendar(ctx, async (session) => {
      const found = await findByUid(session, eventUidFor(ctx.idempotencyKey));
      return found ? created(found, true) : null;
    }),
  perform: (input, ctx) =>
    withCalendar(ctx, async (session) => {
      const { start, end } = times(input);
      const uid = eventUidFor(ctx.idempotencyKey);
      const done = await findByUid(session, uid);
      if (done) return created(done, true);
      const response = await session.client.createCalendarObject({
        calendar: session.calendar,
        filename: `${uid}.ics`,
        iCalString: buildCalendar({
          uid,
          summary: input.summary,
          description: input.description,
          location: input.location,
          start,
          end,
          attendees: input.attendees,
          ...(session.account.organizer ? { organizer: session.account.organizer } : {}),
        }),
      });
      await expectOk(response, `Creating event ${uid}`);
      const stored = await findByUid(session, uid);
      if (!stored)
        throw new CalendarError(
          `The server accepted event ${uid} but does not list it at ${objectUrl(session, uid)}.`,
        );
      return created(stored, false);
    }),
};

export const moveInputSchema = z.strictObject({ uid: z.string().min(1), start: instant, end: instant });
export type MoveInput = z.infer<typeof moveInputSchema>;
export const moveOutputSchema = z.object({
  uid: z.string(),
  start: z.string(),
  end: z.string(),
  previousStart: z.string(),
  previousEnd: z.string(),
  resumed: z.boolean(),
});
export type MoveOutput = z.infer<typeof moveOutputSchema>;

/** The output of this key's move if the stored event shows it (moved there, marked with the key). */
function ownMove(
  stored: StoredEvent,
  key: string,
  target: { start: number; end: number },
): MoveOutput | null {
  const mark = stored.event.keelMove?.split('/');
  if (!mark || mark[0] !== keyMark(key)) return null;
  if (stored.event.start !== target.start || stored.event.end !== target.end) return null;
  const fromStamp = (stamp: string | undefined) =>
    new Date(
      (stamp ?? '').replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    ).toISOString();
  return {
    uid: stored.event.uid,
    start: new Date(target.start).toISOString(),
    end: new Date(target.end).toISOString(),
    previousStart: fromStamp(mark[1]),
    previousEnd: fromStamp(mark[2]),
    resumed: true,
  };
}

export const moveAction: ConnectorAction<MoveInput, MoveOutput> = {
  description: 'Moves a calendar event (by uid) to new start and end times (ISO). Undo: moves it back.',
  risk: 'external',
  input: moveInputSchema,
  output: moveOutputSchema,
  review: (input) => reviewYaml(`Move calendar event ${input.uid} to ${input.start}`, input),
  fromReview: (text, original) => {
    const edited = fromReviewYaml(moveInputSchema, text, 'move');
    if (edited.uid !== original.uid)
      throw new CalendarError('The uid of a move cannot change in review; reject it instead.');
    return edited;
  },
  undo: {
    action: 'move',
    input: (_input, output) => ({ uid: output.uid, start: output.previousStart, end: output.previousEnd }),
  },
  find: (input, ctx) =>
    withCalendar(ctx, async (session) => {
      const stored = await findByUid(session, input.uid);
      return stored ? ownMove(stored, ctx.idempotencyKey, times(input)) : null;
    }),
  perform: (input, ctx) => withCalendar(ctx, (session) => move(session, input, ctx)),
};

async function move(
  session: Parameters<Parameters<typeof withCalendar>[1]>[0],
  input: MoveInput,
  ctx: ActionContext,
): Promise<MoveOutput> {
  const target = times(input);
  const stored = await requireByUid(session, input.uid);
  const again = ownMove(stored, ctx.idempotencyKey, target);
  if (again) return again;
  if (stored.event.recurring) {
    throw new CalendarInputError(
      `Event ${input.uid} repeats; calendar@1 does not move recurring events yet.`,
    );
  }
  const mark = `${keyMark(ctx.idempotencyKey)}/${utcStamp(stored.event.start)}/${utcStamp(stored.event.end)}`;
  const response = await session.client.updateCalendarObject({
    calendarObject: {
      url: stored.object.url,
      etag: stored.object.etag,
      data: withTimes(String(stored.object.data), target.start, target.end, mark),
    },
  });
  if (response.status === 412) {
    throw new CalendarError(
      `Event ${input.uid} changed on the server while Keel moved it; run the step again.`,
    );
  }
  await expectOk(response, `Moving event ${input.uid}`);
  return {
    uid: input.uid,
    start: new Date(target.start).toISOString(),
    end: new Date(target.end).toISOString(),
    previousStart: new Date(stored.event.start).toISOString(),
    previousEnd: new Date(stored.event.end).toISOString(),
    resumed: false,
  };
}

export const cancelInputSchema = z.strictObject({ uid: z.string().min(1) });
export type CancelInput = z.infer<typeof cancelInputSchema>;
export const cancelOutputSchema = z.object({
  uid: z.string(),
  /** False when the calendar had no such event any more (nothing was deleted now). */
  deleted: z.boolean(),
});
export type CancelOutput = z.infer<typeof cancelOutputSchema>;

export const cancelAction: ConnectorAction<CancelInput, CancelOutput> = {
  description: 'Cancels (deletes) a calendar event by uid; an event already gone counts as cancelled.',
  risk: 'external',
  input: cancelInputSchema,
  output: cancelOutputSchema,
  review: (input) => reviewYaml(`Cancel calendar event ${input.uid}`, input),
  find: (input, ctx) =>
    withCalendar(ctx, async (session) =>
      (await findByUid(session, input.uid)) ? null : { uid: input.uid, deleted: true },
    ),
  perform: (input, ctx) =>
    withCalendar(ctx, async (session) => {
      const stored = await findByUid(session, input.uid);
      if (!stored) return { uid: input.uid, deleted: false };
      const response = await session.client.deleteCalendarObject({
        calendarObject: { url: stored.object.url, etag: stored.object.etag },
      });
      if (response.status !== 404) await expectOk(response, `Cancelling event ${input.uid}`);
      return { uid: input.uid, deleted: response.status !== 404 };
    }),
};
