/**
 * Compensation through the real daemon and conductor: a run that fails, or that the operator
 * cancels, after connector actions takes them back newest first through each action's `undo`
 * (the ledger@1 provider is a real file, so every call is counted), journals each undo under its
 * own key with intent and result, shows a line per action in the trace, and names an action that
 * cannot be undone in the run's failure for the operator.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  RunCancelRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
  type RunTrace,
} from '@keel/schemas';
import { readJournal } from '../../daemon/src/conductor/journal';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
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
    - { action: "ledger.*", decide: allow }
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [ledgerConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

async function runbook(steps: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'undoes.yaml'),
    `apiVersion: keel/v1\nname: undoes\nrole: Tester\ndescription: Acts, then fails.\nsteps:\n${steps}`,
  );
}

async function settled(id: string, status: RunSummary['status'][]): Promise<RunTrace> {
  return waitFor(
    `run ${id} ${status.join('/')}`,
    async () => {
      const trace = await client.request(RunGetRequest, { id });
      return status.includes(trace.run.status) ? trace : null;
    },
    30_000,
  );
}

async function journalOf(id: string) {
  return readJournal(join(dirs.workspace, '.keel/runs', `${id}.jsonl`), new StateSeal(dirs.workspace));
}

it('a failed run undoes its actions newest first, journaled and in the trace; the rest needs the operator', async () => {
  await runbook(
    STEP('first', 'add', 'a') +
      STEP('second', 'add', 'b') +
      STEP('third', 'push', 'c') +
      STEP('boom', 'fail'),
  );
  const { id } = await client.request(RunStartRequest, { runbook: 'undoes', inputs: {} });
  const trace = await settled(id, ['failed']);

  expect((await ledger(provider)).map((e) => `${e.op} ${e.item}`)).toEqual([
    'add a',
    'add b',
    'push c',
    'remove b',
    'remove a',
  ]);
  expect(trace.run.error).toContain('step "boom" failed');
  expect(trace.run.error).toContain(`needs the operator: ledger.push (${id}:third) cannot be undone`);
  expect(trace.compensation?.map((l) => [l.stepId, l.outcome, l.undo])).toEqual([
    ['third', 'not_undoable', null],
    ['second', 'undone', 'remove'],
    ['first', 'undone', 'remove'],
  ]);

  const records = await journalOf(id);
  const undoIntents = records.filter((r) => r.type === 'effectIntent' && r.undoes);
  expect(undoIntents.map((r) => r.type === 'effectIntent' && [r.key, r.undoes, r.action])).toEqual([
    [`${id}:second:undo`, `${id}:second`, 'remove'],
    [`${id}:first:undo`, `${id}:first`, 'remove'],
  ]);
  expect(records.filter((r) => r.type === 'effect' && r.key.endsWith(':undo'))).toHaveLength(2);
  // Compensation is written before the run's end, so a restart in between would resume it.
  const types = records.map((r) => r.type);
  expect(types.lastIndexOf('compensation')).toBeLessThan(types.indexOf('runEnd'));
});

it('a cancelled run undoes what it did', async () => {
  await runbook(
    STEP('first', 'add', 'a') +
      `  - id: wait
    type: checkpoint
    message: "Go on?"
`,
  );
  const { id } = await client.request(RunStartRequest, { runbook: 'undoes', inputs: {} });
  await settled(id, ['waiting_operator']);
  await client.request(RunCancelRequest, { id });
  const trace = await settled(id, ['cancelled']);
  expect((await ledger(provider)).map((e) => `${e.op} ${e.item}`)).toEqual(['add a', 'remove a']);
  expect(trace.compensation?.map((l) => [l.key, l.outcome])).toEqual([[`${id}:first`, 'undone']]);
});

it('a run that succeeds undoes nothing', async () => {
  await runbook(STEP('first', 'add', 'a'));
  const { id } = await client.request(RunStartRequest, { runbook: 'undoes', inputs: {} });
  const trace = await settled(id, ['succeeded']);
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['add']);
  expect(trace.compensation).toBeUndefined();
});
