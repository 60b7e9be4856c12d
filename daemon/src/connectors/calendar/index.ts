/**
 * `calendar@1`: a CalDAV calendar (tsdav) as a Keel connector. Actions: `upcoming` and
 * `freeSlots` (read), `create` (external, exactly once per key through a UID derived from it;
 * undo: `cancel`), `move` (external; undo: move back), `cancel` (external). Event:
 * `calendar.upcoming`, a configurable time before an event. Credential: `password`. The server is
 * a trust endpoint, and requests never leave its origin (no redirects). Everything read from a
 * calendar is untrusted data.
 */
import type { Connector } from '../sdk';
import { calendarConfigSchema, calendarTrustEndpoints } from './account';
import { probeCalendar } from './probe';
import { freeSlotsAction, upcomingAction } from './read';
import { CALENDAR_UPCOMING, upcomingEvent, upcomingSource } from './upcoming';
import { cancelAction, createAction, moveAction } from './write';

export const CALENDAR_CONNECTOR = 'calendar@1';

export const calendarConnector: Connector = {
  id: CALENDAR_CONNECTOR,
  description:
    'A CalDAV calendar: list upcoming events, find free slots, create, move and cancel events; hear of events about to start.',
  configSchema: calendarConfigSchema,
  credentials: ['password'],
  actions: {
    upcoming: upcomingAction,
    freeSlots: freeSlotsAction,
    create: createAction,
    move: moveAction,
    cancel: cancelAction,
  },
  events: { [CALENDAR_UPCOMING]: upcomingEvent },
  source: upcomingSource,
  probe: probeCalendar,
  trustEndpoints: calendarTrustEndpoints,
};
