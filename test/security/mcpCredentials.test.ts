/**
 * An MCP server's credential (`env: { FIXTURE_TOKEN: { credential: token } }`) comes from where
 * keel.yaml says (an environment variable of the daemon, or the editor's secret storage), through
 * the connector SDK's resolver: it reaches the server, and never a file or a log, even when the
 * server (the fixture, test/helpers/mcpFixtureServer.ts) echoes its environment in its answer and
 * prints the token on stderr. A token written into keel.yaml as a value is refused at its line.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  RunGetRequest,
  RunStartRequest,
  SetConnectorSecretRequest,
  StatusRequest,
  type RunTrace,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FIXTURE_SERVER = join(REPO_ROOT, 'test/helpers/mcpFixtureServer.ts');
/** tsx by its file URL: the server starts in the temporary workspace, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ENV_TOKEN = 'mcp-env-secret-5e1d7c93a2';
const EDITOR_TOKEN = 'mcp-editor-secret-0b6f48d1';

let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;
let logs = '';

async function start(credential: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  fixture:
    use: mcp
    command: [${[process.execPath, '--import', TSX, FIXTURE_SERVER].map((w) => JSON.stringify(w)).join(', ')}]
    env: { FIXTURE_TOKEN: { credential: token } }
    credentials: { token: ${credential} }
    tools: { env: read }
`,
  );
  logs = '';
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => (logs += line) }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

/** Runs a connector step calling the fixture's `env` tool, which answers with its environment. */
async function runEnv(): Promise<RunTrace> {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'echo.yaml'),
    `apiVersion: keel/v1\nname: echo\nrole: Tester\ndescription: Calls a careless MCP server.\nsteps:\n` +
      `  - id: env\n    type: connector\n    use: fixture\n    action: env\n`,
  );
  const started = await client.request(RunStartRequest, { runbook: 'echo', inputs: {} });
  return waitFor(
    `run ${started.id}`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return ['succeeded', 'failed'].includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
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

/** The server got the token: its answer, as the run recorded it, holds FIXTURE_TOKEN blanked out. */
function echoedToken(trace: RunTrace): unknown {
  const output = trace.steps[0]?.output as { text?: string } | null;
  return (JSON.parse(output?.text ?? '{}') as Record<string, unknown>).FIXTURE_TOKEN;
}

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-secret-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_TEST_MCP_TOKEN;
  await dirs.cleanup();
});

it("an environment variable's token reaches the server, and no file or log", async () => {
  process.env.KEEL_TEST_MCP_TOKEN = ENV_TOKEN;
  await start('{ env: KEEL_TEST_MCP_TOKEN }');
  const trace = await runEnv();
  expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
  expect(echoedToken(trace)).toBe('[redacted]');
  await waitFor('the server banner', () => logs.includes('fixture started with token'));
  await daemon!.stop('test');
  daemon = null;
  expect(await filesHolding(dirs.workspace, ENV_TOKEN)).toEqual([]);
  expect(logs).toContain('fixture started with token [redacted]');
  expect(logs).not.toContain(ENV_TOKEN);
});

it("the editor's secret reaches the server, and no file or log", async () => {
  await start('{ secret: true }');
  await client.request(SetConnectorSecretRequest, {
    connector: 'fixture',
    credential: 'token',
    value: EDITOR_TOKEN,
  });
  const trace = await runEnv();
  expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
  expect(echoedToken(trace)).toBe('[redacted]');
  await daemon!.stop('test');
  daemon = null;
  expect(await filesHolding(dirs.workspace, EDITOR_TOKEN)).toEqual([]);
  expect(logs).not.toContain(EDITOR_TOKEN);
});

it("an MCP server's token written into keel.yaml as a value is refused at its line", async () => {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nconnectors:\n  gh:\n    use: mcp\n    command: [npx, server]\n    env:\n      GITHUB_TOKEN: ghp_0123456789abcdef\n`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: (line: string) => (logs += line) }),
  });
  client = new InProcessClient(daemon);
  const status = await client.request(StatusRequest, {});
  const problem = status.problems.find((p) => p.path === 'keel.yaml');
  expect(problem).toMatchObject({ line: 7, severity: 'error' });
  expect(problem?.message).toMatch(/secrets never go in keel.yaml.*GITHUB_TOKEN: \{ credential: NAME \}/);
});
