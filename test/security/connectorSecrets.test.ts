/**
 * A connector credential never reaches a file or a log: a careless connector (test/helpers/
 * notifyConnector.ts) quotes its token in its answer and in its error, from an environment variable
 * and from the editor's secret storage; after the runs, nothing under .keel/ (journals, traces,
 * approvals) and nothing the daemon logged holds the token. A missing credential is an error that
 * names keel.yaml and the fix, and a secret written into keel.yaml is refused at its line.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalsListRequest,
  RunGetRequest,
  RunStartRequest,
  SetConnectorSecretRequest,
  StatusRequest,
  type RunSummary,
} from '@keel/schemas';
import { Journal, readJournal } from '../../daemon/src/conductor/journal';
import { ConnectorSecrets, credentialResolver } from '../../daemon/src/connectors/credentials';
import { ConnectorRegistry } from '../../daemon/src/connectors/registry';
import { Daemon } from '../../daemon/src/daemon';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { WorkspaceConfig } from '@keel/schemas';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { ModelServer } from '../helpers/modelServer';
import { delivered, notifyConnector } from '../helpers/notifyConnector';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let provider: string;
let daemon: Daemon | null = null;
let client: InProcessClient;
let logs = '';

const ENV_TOKEN = 'env-secret-7f3a9c2e51';
const EDITOR_TOKEN = 'editor-secret-b84d06aa';

async function start(credentials: string, models = ''): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
${models}connectors:
  notify:
    use: notify@1
    dir: ${JSON.stringify(provider)}
    credentials: { token: ${credentials} }
approvals:
  actions:
    - { action: notify.send, decide: allow }
`,
  );
  logs = '';
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => (logs += line) }),
    connectors: [notifyConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

async function run(steps: string): Promise<RunSummary> {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'leak.yaml'),
    `apiVersion: keel/v1\nname: leak\nrole: Tester\ndescription: Calls a careless connector.\nsteps:\n${steps}`,
  );
  const started = await client.request(RunStartRequest, { runbook: 'leak', inputs: {} });
  return waitFor(`run ${started.id}`, async () => {
    const { run } = await client.request(RunGetRequest, { id: started.id });
    return run.status === 'succeeded' || run.status === 'failed' ? run : null;
  });
}

/** Every file under `dir` whose bytes contain `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile()) continue;
    if ((await readFile(path)).includes(needle)) found.push(name);
  }
  return found;
}

const SEND = `  - id: tell
    type: connector
    use: notify
    action: send
    with: { to: dana@acme.com, text: Hello }
  - id: oops
    type: connector
    use: notify
    action: fail
`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  provider = await mkdtemp(join(tmpdir(), 'keel-provider-'));
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_TEST_NOTIFY_TOKEN;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

it('a credential from the environment is used, and never written to .keel/ or the logs', async () => {
  process.env.KEEL_TEST_NOTIFY_TOKEN = ENV_TOKEN;
  await start('{ env: KEEL_TEST_NOTIFY_TOKEN }');
  const result = await run(SEND);
  expect(result.status).toBe('failed');
  expect(result.error).toContain('[redacted]');
  expect(result.error).not.toContain(ENV_TOKEN);
  expect(await delivered(provider)).toHaveLength(1);
  await daemon!.stop('test');
  daemon = null;
  expect(await filesHolding(join(dirs.workspace, '.keel'), ENV_TOKEN)).toEqual([]);
  expect(await filesHolding(dirs.workspace, ENV_TOKEN)).toEqual([]);
  expect(logs).not.toContain(ENV_TOKEN);
  // The journal did record the answer, with the token blanked out.
  expect((await filesHolding(join(dirs.workspace, '.keel'), 'Bearer [redacted]')).length).toBeGreaterThan(0);
});

it("a credential from the editor's secret storage is kept in memory only and redacted", async () => {
  await start('{ secret: true }');
  await client.request(SetConnectorSecretRequest, {
    connector: 'notify',
    credential: 'token',
    value: EDITOR_TOKEN,
  });
  const result = await run(SEND);
  expect(result.error).not.toContain(EDITOR_TOKEN);
  expect(await delivered(provider)).toHaveLength(1);
  await daemon!.stop('test');
  daemon = null;
  expect(await filesHolding(dirs.workspace, EDITOR_TOKEN)).toEqual([]);
  expect(logs).not.toContain(EDITOR_TOKEN);
});

it('an agent never reads a credential a connector quotes in its answer or its error', async () => {
  process.env.KEEL_TEST_NOTIFY_TOKEN = ENV_TOKEN;
  const model = await ModelServer.start();
  try {
    await start(
      '{ env: KEEL_TEST_NOTIFY_TOKEN }',
      `models:\n  endpoint: { baseUrl: ${model.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
    );
    model.enqueue(
      { toolCalls: [{ name: 'notify_send', arguments: { to: 'dana@acme.com', text: 'Hello' } }] },
      { toolCalls: [{ name: 'notify_fail', arguments: {} }] },
      { content: 'done' },
    );
    const result = await run(
      `  - id: tell\n    type: agent\n    goal: Tell Dana.\n    tools: [notify.send, notify.fail]\n`,
    );
    expect(result.status).toBe('succeeded');
    expect(await delivered(provider)).toHaveLength(1);
    // The answer (its authorization header) and the error both went back to the model, blanked.
    const toolMessages = model.requests
      .flatMap((r) => (r.body as { messages: { role: string; content: string }[] }).messages)
      .filter((m) => m.role === 'tool')
      .map((m) => m.content);
    expect(toolMessages.length).toBeGreaterThanOrEqual(2);
    expect(toolMessages.join('\n')).not.toContain(ENV_TOKEN);
    expect(toolMessages.join('\n')).toContain('Bearer [redacted]');
  } finally {
    await model.close();
  }
});

it('a missing credential fails the step naming keel.yaml and the fix, and sends nothing', async () => {
  await start('{ env: KEEL_TEST_NOTIFY_TOKEN }');
  const result = await run(SEND);
  expect(result.status).toBe('failed');
  expect(result.error).toMatch(
    /keel\.yaml \(connectors\.notify\.credentials\.token\).*KEEL_TEST_NOTIFY_TOKEN/,
  );
  expect(await delivered(provider)).toEqual([]);
  expect((await client.request(ApprovalsListRequest, {})).approvals).toEqual([]);
});

it('a secret written into keel.yaml is refused at its line', async () => {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nconnectors:\n  notify:\n    use: notify@1\n    dir: /tmp\n    password: hunter2hunter2\n`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: (line: string) => (logs += line) }),
    connectors: [notifyConnector],
  });
  client = new InProcessClient(daemon);
  const status = await client.request(StatusRequest, {});
  const problem = status.problems.find((p) => p.path === 'keel.yaml');
  expect(problem).toMatchObject({ line: 6, severity: 'error' });
  expect(problem?.message).toMatch(/secrets never go in keel.yaml.*credentials/);
});

it('a credential too short to redact ("true") is refused, naming keel.yaml, the connector and the fix', () => {
  const registry = new ConnectorRegistry([notifyConnector]);
  const config = WorkspaceConfig.parse({
    version: 1,
    connectors: { notify: { use: 'notify@1', dir: '/tmp/x', credentials: { token: { env: 'CI' } } } },
  });
  const [instance] = registry.instances(config).instances;
  const redacted: string[] = [];
  const resolve = credentialResolver(instance!, new ConnectorSecrets(), { CI: 'true' }, (v) =>
    redacted.push(v),
  );
  expect(() => resolve('token')).toThrow(
    /credential "token" of connector "notify" is shorter than 8 characters.*keel\.yaml \(connectors\.notify\.credentials\.token\).*CI; point it at the real secret/,
  );
  expect(redacted).toEqual([]);
});

it('a journal with a redacted credential that looks like JSON still parses, with the secret gone', async () => {
  const secret = '"inputs"'; // a key of every run record, as the line spells it
  const runs = join(dirs.workspace, '.keel', 'runs');
  await mkdir(runs, { recursive: true });
  const id = '20260101-000000-tell-abcdef';
  const path = join(runs, `${id}.jsonl`);
  const journal = await Journal.create(
    path,
    {
      type: 'run',
      version: 1,
      id,
      runbook: 'tell',
      runbookHash: 'x',
      inputs: { note: `token ${secret} and a"b` },
      recordCassette: null,
      replayCassette: null,
      at: '2026-01-01T00:00:00.000Z',
    },
    new StateSeal(dirs.workspace),
    (text) => text.split(secret).join('[redacted]'),
  );
  await journal.close();
  const text = await readFile(path, 'utf8');
  expect(text).toContain('[redacted]');
  expect(text).not.toContain('\\"inputs\\"');
  const [run] = await readJournal(path, new StateSeal(dirs.workspace));
  expect(run).toMatchObject({ type: 'run', inputs: { note: 'token [redacted] and a"b' } });
});
