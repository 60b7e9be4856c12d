/**
 * `keel report`'s connector part through the real daemon and DuckDB: each connector's actions by
 * how they ended, the undos compensation ran and the operator's decisions, counted from what the
 * runs really did (the ledger@1 provider is a real file), and the same after a restart that finds
 * a store older than its actions table.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
  MetricsReportRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
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
let client: InProcessClient;

const STEP = (id: string, action: string, item?: string) => `  - id: ${id}
    type: connector
    use: ledger
    action: ${action}
    with: ${item ? `{ item: "${item}" }` : '{}'}
`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  provider = await mkdtemp(join(tmpdir(), 'keel-ledger-'));
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  ledger: { use: ledger@1, dir: ${JSON.stringify(provider)} }
approvals:
  actions:
    - { action: ledger.push, decide: ask }
    - { action: "ledger.*", decide: allow }
`,
  );
  await start();
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

async function start(): Promise<void> {
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [ledgerConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

async function run(name: string, steps: string): Promise<string> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1\nname: ${name}\nrole: Tester\ndescription: Uses the ledger.\nsteps:\n${steps}`,
  );
  return (await client.request(RunStartRequest, { runbook: name, inputs: {} })).id;
}

async function settled(id: string, status: RunSummary['status'][]): Promise<void> {
  await waitFor(
    `run ${id} ${status.join('/')}`,
    async () => status.includes((await client.request(RunGetRequest, { id })).run.status) || null,
    30_000,
  );
}

async function decidePush(decide: (id: string) => Promise<unknown>): Promise<void> {
  const proposal = await waitFor('the push to wait for a decision', async () => {
    const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
    return approvals[0] ?? null;
  });
  await decide(proposal.id);
}

it('counts each connector’s actions, failures, undos and decisions, also after a restart with an older store', async () => {
  // Two adds, then a failing read: compensation takes both adds back.
  await settled(await run('undone', STEP('a', 'add', 'a') + STEP('b', 'add', 'b') + STEP('boom', 'fail')), [
    'failed',
  ]);
  // A push the operator approves, then one refused by the provider.
  const approved = await run('approved', STEP('push', 'push', 'p') + STEP('refused', 'refuse', 'r'));
  await decidePush((id) => client.request(ApprovalApproveRequest, { id }));
  await settled(approved, ['failed']);
  // A push the operator rejects: it never reaches the provider.
  const rejected = await run('rejected', STEP('push', 'push', 'q'));
  await decidePush((id) => client.request(ApprovalRejectRequest, { id, reason: 'not this one' }));
  await settled(rejected, ['failed']);

  expect((await ledger(provider)).map((e) => `${e.op} ${e.item}`)).toEqual([
    'add a',
    'add b',
    'remove b',
    'remove a',
    'push p',
  ]);
  const expected = [
    {
      connector: 'ledger',
      actions: 4,
      succeeded: 3,
      failed: 1,
      open: 0,
      undos: 2,
      approvals: { approved: 1, edited: 0, rejected: 1 },
    },
  ];
  expect((await client.request(MetricsReportRequest, {})).connectors).toEqual(expected);

  // A store written before connector actions were counted: restart finds the runs behind their
  // journals and fills the table again from them.
  await daemon!.stop('test');
  daemon = null;
  const instance = await DuckDBInstance.create(join(dirs.workspace, '.keel', 'runs.duckdb'));
  const db = await instance.connect();
  await db.run('DROP TABLE actions');
  await db.run('ALTER TABLE approvals DROP COLUMN connector');
  db.closeSync();
  instance.closeSync();
  await start();
  expect((await client.request(MetricsReportRequest, {})).connectors).toEqual(expected);
});
