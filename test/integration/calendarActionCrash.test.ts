/**
 * Exactly once across `kill -9` for calendar@1's `create`, against the real Radicale: the daemon
 * sends the PUT, Radicale stores the event, and its answer never reaches the daemon (a loopback
 * relay stops passing the server's bytes on a connection once it saw a PUT); the daemon is killed
 * between the action's intent and its result and started again. The connector asks the server
 * for the UID it derives from the idempotency key (`find`), and the run finishes with exactly one
 * event in the calendar.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { startCalendarServer, type CalendarServer } from '../helpers/calendarServer';
import { killAfterServerActed } from '../helpers/crashDaemon';
import { mutingRelay, type MutingRelay } from '../helpers/mutingRelay';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const PASSWORD_VARIABLE = 'KEEL_CRASH_CALENDAR_PASSWORD';

let caldav: CalendarServer;
let dirs: TempDirs;
let relay: MutingRelay | undefined;

beforeAll(async () => {
  caldav = await startCalendarServer();
}, 60_000);
afterAll(async () => {
  await caldav?.stop();
});
beforeEach(async () => {
  dirs = await makeTempDirs('keel-calendar-crash-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[PASSWORD_VARIABLE] = caldav.users.alice!.password;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await relay?.close();
  delete process.env[PASSWORD_VARIABLE];
  await dirs.cleanup();
});

it('a create cut off by kill -9 is found by its UID: the run finishes, the calendar holds one event', async () => {
  relay = await mutingRelay({ port: caldav.port }, /^PUT /m);
  const summary = `crash-create-${Date.now()}`;
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  cal:
    use: calendar@1
    url: http://127.0.0.1:${relay.port}/
    user: alice
    credentials: { password: { env: ${PASSWORD_VARIABLE} } }
approvals:
  actions:
    - { action: "cal.*", decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'book.yaml'),
    `apiVersion: keel/v1
name: book
role: Tester
description: Killed in the middle of.
steps:
  - id: meet
    type: connector
    use: cal
    action: create
    with:
      summary: ${summary}
      start: "2031-05-06T10:00:00Z"
      end: "2031-05-06T11:00:00Z"
      attendees: [{ email: dana@example.org }]
`,
  );
  const stored = async (): Promise<number> =>
    (await caldav.events('alice')).filter((ics) => ics.includes(summary)).length;

  const run = await killAfterServerActed(
    dirs,
    'book',
    'Radicale to store the event while the daemon waits',
    async () => relay!.muted() && (await stored()) > 0,
  );
  expect(run.status, run.error ?? '').toBe('succeeded');
  expect(await stored()).toBe(1);
}, 180_000);
