/**
 * http@1 stays where the operator allowed it: a host outside keel.yaml's allow-list, a redirect to
 * another host, and paths that try to switch host or climb out of baseUrl are refused before
 * anything is sent there; a secret header written into keel.yaml is refused; and the bearer token,
 * even echoed back by a hostile API, never reaches .keel/ (journals, traces) or the daemon's log; a
 * `responseSchema` pattern that backtracks (`^(a+)+$`) never stalls the daemon.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  RunGetRequest,
  RunStartRequest,
  StatusRequest,
  WorkspaceConfig,
  type RunSummary,
} from '@keel/schemas';
import { httpConnector } from '../../daemon/src/connectors/http';
import { ConnectorRegistry } from '../../daemon/src/connectors/registry';
import { ActionInputError, type ActionContext } from '../../daemon/src/connectors/sdk';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { json, startHttpApi, type HttpApi } from '../helpers/httpApi';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const TOKEN = 'tok-security-5e1f09c7a2';
let api: HttpApi;
let evil: HttpApi;

beforeAll(async () => {
  evil = await startHttpApi({
    '/steal': (req, res) => json(res, 200, { got: req.headers.authorization ?? null }),
  });
  api = await startHttpApi({
    '/v1/redirect': (_req, res) => res.writeHead(302, { location: `${evil.url}/steal` }).end(),
    '/v1/echo': (req, res) => json(res, 200, { youSent: req.headers.authorization }),
    '/v1/echo-error': (req, res) => json(res, 400, { error: `bad token ${req.headers.authorization}` }),
    // With JavaScript's RegExp, ^(a+)+$ takes seconds on this (it doubles with each "a").
    '/v1/evil-string': (_req, res) => json(res, 200, `${'a'.repeat(25)}!`),
  });
});
afterAll(async () => {
  await Promise.all([api?.stop(), evil?.stop()]);
});

function context(): ActionContext {
  return {
    workspace: '/nonexistent',
    idempotencyKey: 'run/step',
    credential: () => TOKEN,
    config: httpConnector.configSchema.parse({ baseUrl: `${api.url}/v1` }),
    signal: new AbortController().signal,
  };
}
const get = httpConnector.actions.get!;

it('refuses a host outside the allow-list and a redirect to another host, sending nothing there', async () => {
  await expect(get.perform({ path: 'steal', host: evil.url }, context())).rejects.toThrow(
    /refused to contact .*keel\.yaml allows only/,
  );
  await expect(get.perform({ path: 'redirect' }, context())).rejects.toThrow(
    /redirect \(302\).*does not follow/,
  );
  expect(evil.seen).toEqual([]);
});

it.each([
  '//127.0.0.1:1/steal',
  'http://evil.test/x',
  'HTTPS:evil.test',
  '../steal',
  'a/../../steal',
  '%2e%2e/steal',
  '.%2E/steal',
  'a%2F..%2F..%2Fsteal',
  '\\\\evil.test\\x',
  'user:pw@evil.test/x',
  'echo?x=1',
  'echo\r\nHost: evil.test',
])('refuses the path %j before sending anything', async (path) => {
  const before = api.seen.length + evil.seen.length;
  const attempt = get.perform({ path }, context());
  await expect(attempt).rejects.toBeInstanceOf(ActionInputError);
  expect(api.seen.length + evil.seen.length).toBe(before);
});

it('refuses a secret header in keel.yaml, and names each origin for consent', () => {
  const config = WorkspaceConfig.parse({
    version: 1,
    connectors: {
      api: { use: 'http@1', baseUrl: 'https://api.example.com', headers: { Authorization: 'Bearer abc' } },
      two: { use: 'http@1', baseUrl: 'https://a.example.com/x', hosts: ['https://b.example.com:8443'] },
    },
  });
  const registry = new ConnectorRegistry();
  const { issues } = registry.instances(config);
  expect(issues.map((i) => i.path.join('.'))).toEqual(['connectors.api.headers.Authorization']);
  expect(issues[0]!.message).toMatch(/secrets never go in keel\.yaml/);
  expect(registry.trustEndpoints(config).map((e) => e.origin)).toEqual([
    'https://a.example.com:443',
    'https://b.example.com:8443',
  ]);
});

let dirs: TempDirs | null = null;
let daemon: Daemon | null = null;
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_TEST_HTTP_TOKEN;
  await dirs?.cleanup();
  dirs = null;
});

async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name);
    if ((await stat(path)).isFile() && (await readFile(path)).includes(needle)) found.push(name);
  }
  return found;
}

it('the token, echoed by a hostile API in an answer and an error, never reaches .keel/ or the log', async () => {
  dirs = await makeTempDirs('keel-http-secret-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_TEST_HTTP_TOKEN = TOKEN;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  api:
    use: http@1
    baseUrl: ${api.url}/v1
    credentials: { token: { env: KEEL_TEST_HTTP_TOKEN } }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'leak.yaml'),
    `apiVersion: keel/v1
name: leak
role: Tester
description: Calls an API that echoes its token.
steps:
  - { id: echo, type: connector, use: api, action: get, with: { path: echo } }
  - { id: oops, type: connector, use: api, action: get, with: { path: echo-error } }
`,
  );
  let logs = '';
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => (logs += line) }),
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  const started = await client.request(RunStartRequest, { runbook: 'leak', inputs: {} });
  const run: RunSummary = await waitFor(`run ${started.id}`, async () => {
    const { run } = await client.request(RunGetRequest, { id: started.id });
    return run.status === 'succeeded' || run.status === 'failed' ? run : null;
  });
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/HTTP 400/);
  expect(api.seen.some((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  await daemon.stop('test');
  daemon = null;
  expect(await filesHolding(dirs.workspace, TOKEN)).toEqual([]);
  expect(logs).not.toContain(TOKEN);
  // The echoed answer was journaled, blanked out.
  expect((await filesHolding(join(dirs.workspace, '.keel'), 'Bearer [redacted]')).length).toBeGreaterThan(0);
});

it('a POST whose responseSchema cannot be compiled sends nothing: the schema is checked first', async () => {
  const post = httpConnector.actions.post!;
  const before = api.seen.length;
  // A lookahead needs a backtracking engine: refused when compiled. Before, the POST took effect
  // and only then did the step fail on its own schema.
  const schema = { type: 'object', properties: { id: { type: 'string', pattern: '^(?!x).*$' } } };
  const attempt = post.perform(
    post.input.parse({ path: 'echo', body: {}, responseSchema: schema }),
    context(),
  );
  await expect(attempt).rejects.toThrow(/nothing was sent: the schema itself is not valid.*\^\(\?!x\)/);
  expect(api.seen.length).toBe(before);
});

it('a responseSchema pattern that backtracks does not stall the daemon: the step fails, status answers', async () => {
  dirs = await makeTempDirs('keel-http-redos-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nconnectors:\n  api: { use: http@1, baseUrl: ${api.url}/v1 }\n`,
  );
  // The schema is the runbook's (a model's proposal could have written it): inline, with its pattern.
  // `plain` checks the same answer without a pattern: run first, it loads what a first run loads.
  for (const [name, schema] of [
    ['plain', '{ type: string }'],
    ['redos', "{ type: string, pattern: '^(a+)+$' }"],
  ]) {
    await writeFile(
      join(dirs.workspace, 'runbooks', `${name}.yaml`),
      `apiVersion: keel/v1
name: ${name}
role: Tester
description: Checks an answer against a schema.
steps:
  - id: check
    type: connector
    use: api
    action: get
    with: { path: evil-string, responseSchema: ${schema} }
`,
    );
  }
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  const finished = async (runbook: string): Promise<RunSummary> => {
    const started = await client.request(RunStartRequest, { runbook, inputs: {} });
    return waitFor(`run ${started.id}`, async () => {
      await client.request(StatusRequest);
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' || run.status === 'failed' ? run : null;
    });
  };
  expect((await finished('plain')).status).toBe('succeeded');

  // The daemon runs in this process: the longest the event loop was blocked is its longest stall.
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  const run = await finished('redos');
  stalls.disable();
  expect(run.status).toBe('failed');
  expect(run.error).toContain('must match pattern "^(a+)+$"');
  const slowest = stalls.max / 1e6;
  expect(slowest).toBeLessThan(1_000);
});
