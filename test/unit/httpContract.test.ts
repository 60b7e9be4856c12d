/**
 * http@1's contract with a JSON API, offline: the recorded answers of the Stripe customers API
 * (test/unit/recordings/http-stripe-customers.json, re-recorded with `npx tsx
 * test/helpers/httpConnectorRecording.ts` from stripe-stateful-mock) are replayed on loopback, and
 * the probe and `get` must still find them valid by the response schemas keel.yaml declares. A
 * recording whose answer changes shape (a field's type, a field gone) fails the probe naming the
 * field, before any run reads it.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { getAction } from '../../daemon/src/connectors/http/actions';
import { probeHttp } from '../../daemon/src/connectors/http/probe';
import { HTTP_RECORDING, httpContext, httpSettings, RECORDED_EMAIL } from '../helpers/httpConnectorRecording';
import { replayServer, type Exchange } from '../helpers/httpRecording';

let replay: Awaited<ReturnType<typeof replayServer>> | undefined;
afterEach(async () => {
  await replay?.close();
  replay = undefined;
});

const recorded = async (): Promise<Exchange[]> =>
  JSON.parse(await readFile(HTTP_RECORDING, 'utf8')) as Exchange[];

async function probeOf(exchanges: Exchange[]) {
  replay = await replayServer(exchanges);
  return probeHttp(httpContext(httpSettings(replay.url)));
}

/** The recording with every answer's body changed by `change`, as a changed API would answer. */
function changed(exchanges: Exchange[], change: (body: string) => string): Exchange[] {
  return exchanges.map((exchange) => ({ ...exchange, body: change(exchange.body) }));
}

it('the probe and get find the recorded answers valid by the declared response schemas', async () => {
  const exchanges = await recorded();
  const probe = await probeOf(exchanges);
  expect(probe).toMatchObject({ ok: true, detail: 'GET v1/customers: HTTP 200' });
  expect(probe.version).toBeUndefined(); // the mock sends no Server header
  const path = exchanges[1]!.path.slice(1);
  const customer = await getAction.perform(
    { path, responseSchema: 'customer' },
    httpContext(httpSettings(replay!.url)),
  );
  expect(customer).toMatchObject({
    status: 200,
    contentType: 'application/json',
    body: { object: 'customer', email: RECORDED_EMAIL, balance: 0 },
  });
  expect(replay!.unexpected).toEqual([]);
});

it('a recorded field whose type changed fails the probe naming the field', async () => {
  const probe = await probeOf(
    changed(await recorded(), (body) => body.replace(/"created":\d+/, '"created":"2026-12-03"')),
  );
  expect(probe.ok).toBe(false);
  expect(probe.detail).toBe(
    'http@1 GET /v1/customers: the answer does not match the schema "customers": field "/data/0/created" must be integer',
  );
});

it('a recorded field that is gone fails the probe naming the field', async () => {
  const probe = await probeOf(changed(await recorded(), (body) => body.replace(/"email":"[^"]*",/, '')));
  expect(probe.ok).toBe(false);
  expect(probe.detail).toContain('field "/data/0/email" must have required property \'email\'');
});

it("the API's Server header is the probe's version", async () => {
  const exchanges = (await recorded()).map((exchange) => ({
    ...exchange,
    headers: { ...exchange.headers, server: 'nginx/1.27.4' },
  }));
  expect(await probeOf(exchanges)).toMatchObject({ ok: true, version: 'nginx/1.27.4' });
});
