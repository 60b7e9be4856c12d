/**
 * A connector step's answer never carries a credential into a later prompt: the MCP fixture
 * server (test/helpers/mcpFixtureServer.ts) answers its `env` tool with its whole environment,
 * the token keel.yaml hands it included, and a later `llm` step quotes that answer through
 * `{{ steps.env.output.text }}`. The model server never receives
 * the token, and neither the journal, the trace nor any file of the workspace holds it.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunGetRequest, RunStartRequest, type RunTrace } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { ModelServer } from '../helpers/modelServer';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FIXTURE_SERVER = join(REPO_ROOT, 'test/helpers/mcpFixtureServer.ts');
/** tsx by its file URL: the server starts in the temporary workspace, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const TOKEN = 'step-output-secret-7c1e90a4d2';
const VARIABLE = 'KEEL_TEST_STEP_TOKEN';

let dirs: TempDirs;
let daemon: Daemon | null = null;
let model: ModelServer;
let logs = '';

beforeEach(async () => {
  dirs = await makeTempDirs('keel-step-scrub-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[VARIABLE] = TOKEN;
  model = await ModelServer.start();
  model.respondWith(() => ({ content: 'Noted.' }));
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await model.close();
  delete process.env[VARIABLE];
  await dirs.cleanup();
});

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

it("a connector step's output quoting a credential reaches a later prompt, journal and trace redacted", async () => {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${model.baseUrl} }
  tiers:
    fast: { model: m }
connectors:
  fixture:
    use: mcp
    command: [${[process.execPath, '--import', TSX, FIXTURE_SERVER].map((w) => JSON.stringify(w)).join(', ')}]
    env: { FIXTURE_TOKEN: { credential: token } }
    credentials: { token: { env: ${VARIABLE} } }
    tools: { env: read }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'echo.yaml'),
    `apiVersion: keel/v1
name: echo
role: Tester
description: Hands a careless MCP server's answer to the model.
steps:
  - id: env
    type: connector
    use: fixture
    action: env
  - id: summarize
    type: llm
    prompt: |
      Summarize this environment: {{ steps.env.output.text }}
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'debug', write: (line: string) => (logs += line) }),
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  const started = await client.request(RunStartRequest, { runbook: 'echo', inputs: {} });
  const trace = await waitFor(
    `run ${started.id}`,
    async () => {
      const got: RunTrace = await client.request(RunGetRequest, { id: started.id });
      return ['succeeded', 'failed'].includes(got.run.status) ? got : null;
    },
    30_000,
  );
  expect(trace.run.status, trace.run.error ?? '').toBe('succeeded');
  // The server did get the token: its answer names FIXTURE_TOKEN, blanked out.
  const prompt = JSON.stringify(model.requests.map((request) => request.body as unknown));
  expect(model.requests).toHaveLength(1);
  expect(prompt).toContain('FIXTURE_TOKEN');
  expect(prompt).toContain('[redacted]');
  expect(prompt).not.toContain(TOKEN);
  expect(JSON.stringify(trace)).not.toContain(TOKEN);
  await daemon.stop('test');
  daemon = null;
  expect(await filesHolding(dirs.workspace, TOKEN)).toEqual([]);
  expect(await filesHolding(dirs.runtime, TOKEN)).toEqual([]);
  expect(logs).not.toContain(TOKEN);
});
