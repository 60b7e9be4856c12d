/**
 * An MCP tool that never answers, in a run: the call timed out and may have run, and an MCP tool
 * cannot be asked afterwards, so the step is not retried (whatever its `retry:`) and the run names
 * the call for the operator. A real fixture server over stdio, the real daemon and journal.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunGetRequest, RunStartRequest } from '@keel/schemas';
import { readJournal } from '../../daemon/src/conductor/journal';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FIXTURE_SERVER = join(REPO_ROOT, 'test/helpers/mcpFixtureServer.ts');
/** tsx by its file URL: the server starts in the temporary workspace, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let dirs: TempDirs;
let daemon: Daemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_TEST_FIXTURE_TOKEN = 'fixture-token-abcdef-0123456789';
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_TEST_FIXTURE_TOKEN;
  await dirs.cleanup();
});

it('a timed-out MCP call is not retried: the run names it for the operator', async () => {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  fixture:
    use: mcp
    command: ${JSON.stringify([process.execPath, '--import', TSX, FIXTURE_SERVER])}
    env: { FIXTURE_TOKEN: { credential: token } }
    credentials: { token: { env: KEEL_TEST_FIXTURE_TOKEN } }
    timeoutMs: 1000
    tools: { hang: internal }
approvals:
  actions:
    - { action: fixture.hang, decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'stuck.yaml'),
    `apiVersion: keel/v1
name: stuck
role: Tester
description: Calls a tool that never answers.
steps:
  - id: call
    type: connector
    use: fixture
    action: hang
    with: { seconds: 60 }
    retry: { maxAttempts: 3, backoffSeconds: 0 }
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  const { id } = await client.request(RunStartRequest, { runbook: 'stuck', inputs: {} });
  const trace = await waitFor(
    'the run to end',
    async () => {
      const got = await client.request(RunGetRequest, { id });
      return got.run.endedAt ? got : null;
    },
    60_000,
  );
  expect(trace.run.status).toBe('failed');
  expect(trace.run.error).toMatch(
    new RegExp(`fixture\\.hang \\(${id}:call\\) was cut off .*gave no answer.*Check the provider`),
  );
  const records = await readJournal(
    join(dirs.workspace, '.keel/runs', `${id}.jsonl`),
    new StateSeal(dirs.workspace),
  );
  // One attempt, one call: the step's retry: was not used on a call that may have happened.
  expect(records.filter((r) => r.type === 'stepStart')).toHaveLength(1);
  expect(records.filter((r) => r.type === 'effectIntent')).toHaveLength(1);
  expect(records.filter((r) => r.type === 'effectFailed')).toHaveLength(0);
}, 90_000);
