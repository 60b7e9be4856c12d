/**
 * http@1 against a real JSON API on loopback: a GET with its query and a named response schema;
 * an answer that does not match fails naming the field; writes carry the bearer token and an
 * Idempotency-Key from the run and step; non-JSON, empty, too large and slow answers are handled
 * with clear messages; the probe GETs its path and checks its schema.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { httpConnector } from '../../daemon/src/connectors/http';
import { ConnectorRegistry } from '../../daemon/src/connectors/registry';
import { ActionInputError, type ActionContext } from '../../daemon/src/connectors/sdk';
import { WorkspaceConfig } from '@keel/schemas';
import { json, startHttpApi, type HttpApi } from '../helpers/httpApi';

const TOKEN = 'tok-integration-0123456789';
let api: HttpApi;

beforeAll(async () => {
  api = await startHttpApi({
    '/v1/users/42': (_req, res) => json(res, 200, { id: 42, email: 'ada@example.test' }),
    '/v1/broken': (_req, res) => json(res, 200, { id: 'forty-two' }),
    '/v1/orders': (req, res) => json(res, 201, { created: JSON.parse(req.body) as unknown }),
    '/v1/text': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words'),
    '/v1/bad-json': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{oops'),
    '/v1/empty': (_req, res) => res.writeHead(204).end(),
    '/v1/huge': (_req, res) => json(res, 200, { data: 'x'.repeat(50_000) }),
    '/v1/slow': () => undefined, // never answers
    '/v1/refused': (_req, res) => json(res, 422, { error: 'amount must be positive' }),
  });
});
afterAll(async () => {
  await api?.stop();
});

function context(config: Record<string, unknown> = {}, key = 'run-1/step-a'): ActionContext {
  return {
    workspace: '/nonexistent',
    idempotencyKey: key,
    credential: (name) => {
      if (name === 'token') return TOKEN;
      throw new Error(`connector "api" asks for the credential "${name}", which keel.yaml does not name`);
    },
    config: {
      ...httpConnector.configSchema.parse({
        baseUrl: `${api.url}/v1`,
        schemas: {
          user: { type: 'object', required: ['id', 'email'], properties: { id: { type: 'integer' } } },
        },
        ...config,
      }),
    },
    signal: new AbortController().signal,
  };
}

const act = (name: string) => httpConnector.actions[name]!;

it('is a built-in with read and external actions, and keel.yaml entries read right', () => {
  expect(new ConnectorRegistry().get('http@1')).toBe(httpConnector);
  expect(Object.fromEntries(Object.entries(httpConnector.actions).map(([n, a]) => [n, a.risk]))).toEqual({
    get: 'read',
    post: 'external',
    put: 'external',
    delete: 'external',
  });
  const config = WorkspaceConfig.parse({
    version: 1,
    connectors: {
      api: {
        use: 'http@1',
        baseUrl: 'https://api.example.com/v1',
        credentials: { token: { env: 'API_TOKEN' } },
      },
    },
  });
  const { instances, issues } = new ConnectorRegistry().instances(config);
  expect(issues).toEqual([]);
  expect(instances.find((i) => i.name === 'api')?.endpoints).toEqual([
    { purpose: 'http', origin: 'https://api.example.com:443', apiKeyEnv: 'API_TOKEN' },
  ]);
});

it('GETs with a query and checks the answer against a named schema', async () => {
  const out = (await act('get').perform(
    { path: '/users/42', query: { expand: ['teams', 'roles'], n: 1 }, responseSchema: 'user' },
    context(),
  )) as { status: number; body: unknown };
  expect(out).toMatchObject({ status: 200, body: { id: 42, email: 'ada@example.test' } });
  const seen = api.seen.at(-1)!;
  expect(seen.url).toBe('/v1/users/42?expand=teams&expand=roles&n=1');
  expect(seen.headers.authorization).toBe(`Bearer ${TOKEN}`);
  expect(seen.headers['idempotency-key']).toBeUndefined();
});

it('fails a step whose answer does not match, naming the field', async () => {
  await expect(act('get').perform({ path: 'broken', responseSchema: 'user' }, context())).rejects.toThrow(
    /does not match the schema "user": field "\/(id" must be integer|email" must have required)/,
  );
  await expect(act('get').perform({ path: 'users/42', responseSchema: 'nope' }, context())).rejects.toThrow(
    /no schema "nope"/,
  );
});

it('writes carry the Idempotency-Key of the run and step, and a JSON body', async () => {
  const out = (await act('post').perform(
    { path: 'orders', body: { amount: 5 } },
    context({ headers: { 'x-client': 'keel' } }, 'run-7/step-pay'),
  )) as { status: number; body: unknown };
  expect(out).toMatchObject({ status: 201, body: { created: { amount: 5 } } });
  const seen = api.seen.at(-1)!;
  expect(seen.method).toBe('POST');
  expect(seen.headers['idempotency-key']).toBe('run-7/step-pay');
  expect(seen.headers['x-client']).toBe('keel');
  expect(seen.headers['content-type']).toBe('application/json');
});

it('handles non-JSON, empty, refused, too large and slow answers clearly', async () => {
  expect(await act('get').perform({ path: 'text' }, context())).toMatchObject({ body: 'plain words' });
  await expect(act('get').perform({ path: 'text', responseSchema: 'user' }, context())).rejects.toThrow(
    /text\/plain, not JSON/,
  );
  await expect(act('get').perform({ path: 'bad-json' }, context())).rejects.toThrow(/that is not JSON/);
  expect(await act('delete').perform({ path: 'empty' }, context())).toMatchObject({
    status: 204,
    body: null,
  });
  const refused = act('post').perform({ path: 'refused', body: { amount: -1 } }, context());
  await expect(refused).rejects.toBeInstanceOf(ActionInputError);
  await expect(refused).rejects.toThrow(/HTTP 422.*amount must be positive/);
  await expect(act('get').perform({ path: 'huge' }, context({ maxResponseBytes: 10_000 }))).rejects.toThrow(
    /more than 10000 bytes \(maxResponseBytes/,
  );
  await expect(act('get').perform({ path: 'slow' }, context({ timeoutSeconds: 0.5 }))).rejects.toThrow(
    /no answer within 0.5 s/,
  );
});

it('probes its configured path and schema', async () => {
  const ok = await httpConnector.probe(context({ probe: { path: 'users/42', schema: 'user' } }));
  expect(ok).toMatchObject({ ok: true, detail: 'GET users/42: HTTP 200' });
  const bad = await httpConnector.probe(context({ probe: { path: 'broken', schema: 'user' } }));
  expect(bad.ok).toBe(false);
  expect(bad.detail).toMatch(/does not match the schema "user"/);
});
