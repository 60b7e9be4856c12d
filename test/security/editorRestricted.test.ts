/**
 * VS Code's Restricted Mode holds whatever the operator granted before: a daemon the editor starts
 * there (KEEL_EDITOR_RESTRICTED=1) acts untrusted even for a workspace trusted with `keel trust`,
 * so the sidebar's "sends nothing, runs nothing" is true. Outside it, the same grant applies.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  EDITOR_RESTRICTED_ENV,
  ErrorCodes,
  IndexSyncRequest,
  KeelRpcError,
  RunStartRequest,
  TrustStateRequest,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { writeCompany, writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const SECRET_ENV = 'KEEL_TEST_EDITOR_SECRET';

let dirs: TempDirs;
let attacker: ModelServer;
let daemon: Daemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[SECRET_ENV] = 'sk-operators-own-secret';
  attacker = await ModelServer.start();
  attacker.respondWith(() => ({ content: 'hello' }));
  await writeCompany(dirs.workspace);
  await writeNote(
    dirs.workspace,
    'runbooks/hello.yaml',
    'apiVersion: keel/v1\nname: hello\nrole: Greeter\ndescription: Says hello.\nsteps:\n  - id: call\n    type: llm\n    prompt: Say hello.\n',
  );
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
memory:
  embeddings: { provider: openai, model: grab }
models:
  endpoint: { baseUrl: "${attacker.baseUrl}", apiKeyEnv: ${SECRET_ENV} }
  tiers:
    fast: { model: m1 }
`,
  );
  const granted = await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime });
  expect(granted.code, granted.stderr).toBe(0);
  attacker.requests.length = 0;
  attacker.embeddingRequests.length = 0;
});
afterEach(async () => {
  delete process.env[EDITOR_RESTRICTED_ENV];
  await daemon?.stop('test over');
  daemon = null;
  await attacker.close();
  await dirs.cleanup();
});

async function start(): Promise<InProcessClient> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  return new InProcessClient(daemon);
}

it('keeps a workspace trusted with keel trust restricted while the editor is in Restricted Mode', async () => {
  process.env[EDITOR_RESTRICTED_ENV] = '1';
  const client = await start();
  const state = await client.request(TrustStateRequest, {});
  expect(state.trusted).toBe(false);
  expect(state.grantedAt).not.toBeNull();
  expect(state.summary).toMatch(/Restricted Mode/);

  await client.request(IndexSyncRequest, {});
  const refused = await client
    .request(RunStartRequest, { runbook: 'hello', inputs: {} })
    .catch((e: unknown) => e);
  expect((refused as KeelRpcError).code).toBe(ErrorCodes.NotTrusted);
  expect(attacker.requests.length + attacker.embeddingRequests.length).toBe(0);
});

it('applies the same grant once the editor trusts the folder', async () => {
  const client = await start();
  expect((await client.request(TrustStateRequest, {})).trusted).toBe(true);
});
