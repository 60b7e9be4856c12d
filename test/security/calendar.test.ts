/**
 * Attacks on calendar@1's credentials. A CalDAV server (or whoever answers for it) redirects Keel
 * to another host: Keel refuses, and the other host never sees a request, let alone the
 * `Authorization` header carrying the password. A keel.yaml naming a plain-http server off
 * loopback is refused before anything is sent. Errors and probe details never carry the
 * password, in clear or as Basic base64. (How event text reaches prompts only fenced is tested
 * through a real daemon in test/integration/calendarRuns.test.ts.)
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { calendarConnector } from '../../daemon/src/connectors/calendar';
import { upcomingAction } from '../../daemon/src/connectors/calendar/read';
import type { ActionContext } from '../../daemon/src/connectors/sdk';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const PASSWORD = 'operators-calendar-password-0123';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');

interface Recorder {
  server: Server;
  port: number;
  requests: { method: string; url: string; authorization: string | undefined }[];
}

async function listen(
  handler: (request: IncomingMessage, recorder: Recorder) => [number, Record<string, string>],
): Promise<Recorder> {
  const recorder: Recorder = { server: createServer(), port: 0, requests: [] };
  recorder.server.on('request', (request, response) => {
    recorder.requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers.authorization,
    });
    request.resume();
    const [status, headers] = handler(request, recorder);
    response.writeHead(status, headers).end();
  });
  await new Promise<void>((resolve) => recorder.server.listen(0, '127.0.0.1', resolve));
  const address = recorder.server.address();
  recorder.port = typeof address === 'object' && address ? address.port : 0;
  return recorder;
}

let dirs: TempDirs;
let attacker: Recorder;
let redirecting: Recorder;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-calendar-sec-');
  // The "other host": another origin on loopback that records everything it is sent.
  attacker = await listen(() => [207, { 'content-type': 'application/xml' }]);
  // The trusted server answers every request with a redirect to the other host.
  redirecting = await listen((request) => [
    307,
    { location: `http://localhost:${attacker.port}${request.url ?? '/'}` },
  ]);
});
afterEach(async () => {
  for (const recorder of [attacker, redirecting])
    await new Promise((resolve) => recorder.server.close(resolve));
  await dirs.cleanup();
});

function context(url: string): ActionContext {
  return {
    workspace: dirs.workspace,
    idempotencyKey: 'run-1/step-1',
    credential: () => PASSWORD,
    config: { url, user: 'alice' },
    signal: new AbortController().signal,
  };
}

it('a redirect to another host is refused: the other host is never asked and never sees the password', async () => {
  const ctx = context(`http://127.0.0.1:${redirecting.port}/`);
  const error = await upcomingAction.perform(upcomingAction.input.parse({}), ctx).then(
    () => null,
    (caught: Error) => caught,
  );
  expect(error?.message).toMatch(/redirected to http:\/\/localhost:\d+; Keel does not follow redirects/);
  expect(error?.message).not.toContain(PASSWORD);
  expect(error?.message).not.toContain(BASIC);
  // The trusted server was asked (with the password it is trusted with); the other host never.
  expect(redirecting.requests.length).toBeGreaterThan(0);
  expect(attacker.requests).toEqual([]);

  const { idempotencyKey: _key, ...probeContext } = ctx;
  const probe = await calendarConnector.probe(probeContext);
  expect(probe.ok).toBe(false);
  expect(probe.detail).toMatch(/redirected to/);
  expect(probe.detail).not.toContain(PASSWORD);
  expect(attacker.requests).toEqual([]);
});

it('a plain-http server off loopback is refused before anything is sent', async () => {
  // 192.0.2.1 (TEST-NET-1) is never routed: a connection attempt would time out, not be refused.
  const ctx = context('http://192.0.2.1:8080/');
  const started = Date.now();
  await expect(upcomingAction.perform(upcomingAction.input.parse({}), ctx)).rejects.toThrow(
    /will not send the password in clear text to 192\.0\.2\.1:8080: use an https:\/\/ url/,
  );
  expect(Date.now() - started).toBeLessThan(2_000);
});

it("the trust endpoint is the server's origin, with where the password comes from", () => {
  const endpoints = calendarConnector.trustEndpoints!(
    { url: `http://127.0.0.1:${redirecting.port}/dav/` },
    { password: { env: 'KEEL_CAL' } },
  );
  // A bad setting names no endpoint (and no instance): nothing would connect.
  expect(calendarConnector.trustEndpoints!({ url: 'not a url', user: 'a' }, {})).toEqual([]);
  expect(endpoints).toEqual([]); // `user` missing: not a valid instance either
  expect(
    calendarConnector.trustEndpoints!(
      { url: 'https://Cal.Example.com/dav/', user: 'alice' },
      { password: { env: 'KEEL_CAL' } },
    ),
  ).toEqual([{ purpose: 'calendar', origin: 'https://cal.example.com:443', apiKeyEnv: 'KEEL_CAL' }]);
});
