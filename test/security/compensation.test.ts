/**
 * Compensation cannot be steered around: keel.yaml's rules hold for undos (a denied undo is not
 * run, it is named for the operator), and no step escapes it by its name (a step called `undo`,
 * whose key ends like an undo's, is still taken back).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunGetRequest, RunStartRequest, type RunTrace } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { ledger, ledgerConnector } from '../helpers/ledgerConnector';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let provider: string;
let daemon: Daemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  provider = await mkdtemp(join(tmpdir(), 'keel-ledger-'));
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

async function failedRun(rules: string, firstStep: string): Promise<RunTrace> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  ledger: { use: ledger@1, dir: ${JSON.stringify(provider)} }
approvals:
  actions:
${rules}    - { action: "ledger.*", decide: allow }
`,
  );
  await writeFile(
    join(dirs.workspace, 'runbooks', 'acts.yaml'),
    `apiVersion: keel/v1
name: acts
role: Tester
description: Acts, then fails.
steps:
  - id: ${firstStep}
    type: connector
    use: ledger
    action: add
    with: { item: "a" }
  - id: boom
    type: connector
    use: ledger
    action: fail
    with: {}
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [ledgerConnector],
  });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  const { id } = await client.request(RunStartRequest, { runbook: 'acts', inputs: {} });
  return waitFor(
    'the run to fail',
    async () => {
      const trace = await client.request(RunGetRequest, { id });
      return trace.run.status === 'failed' ? trace : null;
    },
    30_000,
  );
}

it('an undo keel.yaml denies is not run by compensation; the action is named for the operator', async () => {
  const trace = await failedRun('    - { action: ledger.remove, decide: deny }\n', 'first');
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['add']);
  expect(trace.run.error).toContain(
    `needs the operator: ledger.add (${trace.run.id}:first) was not undone: keel.yaml does not let its undo remove run unasked (keel.yaml decides "deny"`,
  );
  expect(trace.compensation?.map((l) => l.outcome)).toEqual(['needs_approval']);
});

it('a step named undo is compensated like any other', async () => {
  const trace = await failedRun('', 'undo');
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['add', 'remove']);
  expect(trace.compensation?.map((l) => [l.key, l.outcome])).toEqual([[`${trace.run.id}:undo`, 'undone']]);
});
