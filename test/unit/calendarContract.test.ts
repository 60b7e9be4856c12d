/**
 * calendar@1's contract with a CalDAV server, offline: Radicale's recorded answers
 * (test/unit/recordings/calendar-radicale.json, re-recorded with `npx tsx
 * test/helpers/calendarRecording.ts`) are replayed on loopback, and the connector's discovery,
 * calendar query and parsing must still turn them into the same `upcoming` output. A recording
 * whose answers change shape (another server version) fails here, by name, before any run does.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { upcomingAction, upcomingOutputSchema } from '../../daemon/src/connectors/calendar/read';
import { RECORDED_FROM, RECORDING, replayServer, type Exchange } from '../helpers/calendarRecording';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs | undefined;
let replay: Awaited<ReturnType<typeof replayServer>> | undefined;
afterEach(async () => {
  await replay?.close();
  await dirs?.cleanup();
});

async function upcomingFrom(exchanges: Exchange[]) {
  dirs = await makeTempDirs('keel-calendar-contract-');
  replay = await replayServer(exchanges);
  return upcomingAction.perform(upcomingAction.input.parse({ from: RECORDED_FROM, days: 7 }), {
    workspace: dirs.workspace,
    idempotencyKey: 'contract',
    credential: () => 'not-sent-anywhere',
    config: { url: replay.url, user: 'alice' },
    signal: new AbortController().signal,
  });
}

const recorded = async (): Promise<Exchange[]> => JSON.parse(await readFile(RECORDING, 'utf8')) as Exchange[];

it('upcoming reads the recorded Radicale answers into its output schema', async () => {
  const output = await upcomingFrom(await recorded());
  expect(replay!.unexpected).toEqual([]);
  expect(upcomingOutputSchema.safeParse(output).success).toBe(true);
  expect(output.events).toEqual([
    {
      uid: 'recorded-1',
      summary: 'Recorded call',
      description: 'Agenda, notes',
      location: '',
      start: '2031-03-04T09:00:00.000Z',
      end: '2031-03-04T10:00:00.000Z',
      allDay: false,
      status: null,
      organizer: null,
      attendees: [{ email: 'dana@example.org', name: 'Dana', status: 'ACCEPTED' }],
      recurring: false,
    },
  ]);
});

it('a recording whose event lost its DTSTART fails with the reason', async () => {
  const changed = (await recorded()).map((exchange) => ({
    ...exchange,
    body: exchange.body.replace(/DTSTART;TZID=[^\r\n]*\r\n/, ''),
  }));
  await expect(upcomingFrom(changed)).rejects.toThrow(/event without UID or DTSTART/);
});
