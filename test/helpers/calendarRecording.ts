/**
 * Recorded CalDAV exchanges for calendar@1's offline contract tests (issue 15, item 4): a
 * recording relay between the connector and a real Radicale keeps each request's method and path
 * and the server's status, headers and body; a replay server answers the same requests, in order,
 * from the recording, on loopback. A recording made again from a newer server that answers in
 * another shape fails the contract test by name.
 *
 *   npx tsx test/helpers/calendarRecording.ts   # re-records test/unit/recordings/calendar-radicale.json
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const RECORDING = join(__dirname, '..', 'unit', 'recordings', 'calendar-radicale.json');
/** The recorded event: fixed times, so the recorded requests (time ranges) are the same on replay. */
export const RECORDED_FROM = '2031-03-03T00:00:00Z';
const KEPT_HEADERS = ['content-type', 'etag', 'location', 'dav', 'server'];

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** A relay to `upstream` that records every exchange (bodies rewritten to name the relay's own origin). */
export async function recordingRelay(
  upstream: string,
): Promise<{ url: string; exchanges: Exchange[]; close(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      const sent = await body(request);
      const answer = await fetch(new URL(request.url ?? '/', upstream), {
        method: request.method ?? 'GET',
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(
            ([name]) => !['host', 'connection', 'content-length'].includes(name),
          ),
        ) as Record<string, string>,
        ...(sent.length > 0 ? { body: new Uint8Array(sent) } : {}),
        redirect: 'manual',
      });
      const text = await answer.text();
      const headers = Object.fromEntries(
        KEPT_HEADERS.flatMap((name) => (answer.headers.get(name) ? [[name, answer.headers.get(name)!]] : [])),
      );
      exchanges.push({
        method: request.method ?? '',
        path: request.url ?? '/',
        status: answer.status,
        headers,
        body: text,
      });
      response.writeHead(answer.status, headers).end(text);
    })();
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    exchanges,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A loopback server answering from `exchanges`: each request gets the first unused recorded answer
 * with its method and path; one the recording does not have gets 599 and is kept in `unexpected`.
 */
export async function replayServer(
  exchanges: Exchange[],
): Promise<{ url: string; unexpected: string[]; close(): Promise<void> }> {
  const unused = [...exchanges];
  const unexpected: string[] = [];
  const server = createServer((request, response) => {
    void body(request).then(() => {
      const index = unused.findIndex((e) => e.method === request.method && e.path === request.url);
      if (index < 0) {
        unexpected.push(`${request.method} ${request.url}`);
        response.writeHead(599).end('not in the recording');
        return;
      }
      const [exchange] = unused.splice(index, 1);
      response.writeHead(exchange!.status, exchange!.headers).end(exchange!.body);
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    unexpected,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Re-records: Radicale with one known event, the connector's `upcoming` and probe through the relay. */
async function main(): Promise<void> {
  const { startCalendarServer } = await import('./calendarServer');
  const { upcomingAction } = await import('../../daemon/src/connectors/calendar/read');
  const caldav = await startCalendarServer({ users: ['alice'] });
  try {
    await caldav.put(
      'alice',
      'recorded-1',
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:recorded-1\r\nDTSTAMP:20310101T000000Z\r\n' +
        'DTSTART;TZID=Europe/Berlin:20310304T100000\r\nDTEND;TZID=Europe/Berlin:20310304T110000\r\nSUMMARY:Recorded call\r\n' +
        'DESCRIPTION:Agenda\\, notes\r\nATTENDEE;CN=Dana;PARTSTAT=ACCEPTED:mailto:dana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
    );
    const relay = await recordingRelay(caldav.url);
    await upcomingAction.perform(upcomingAction.input.parse({ from: RECORDED_FROM, days: 7 }), {
      workspace: caldav.root,
      idempotencyKey: 'record',
      credential: () => caldav.users.alice!.password,
      config: { url: relay.url, user: 'alice' },
      signal: new AbortController().signal,
    });
    await relay.close();
    // The relay's port is not the replay's: origins in bodies become a placeholder.
    const origin = relay.url.replace(/\/$/, '');
    const portable = relay.exchanges.map((e) => ({ ...e, body: e.body.split(origin).join('{origin}') }));
    await writeFile(RECORDING, `${JSON.stringify(portable, null, 2)}\n`);
    process.stdout.write(`recorded ${portable.length} exchanges to ${RECORDING}\n`);
  } finally {
    await caldav.stop();
  }
}

if (require.main === module) void main();
