/**
 * Exactly once across `kill -9`: a real daemon process performs a connector action whose provider
 * (a real file) carries it out and then never answers; the process is killed between the action's
 * intent and its result, and started again. An action the provider can be asked about (`find`)
 * is found done and not repeated; one that cannot be asked is not repeated either: the run fails
 * naming it for the operator. Either way the provider holds exactly one effect.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { ledgerDaemonProcess, restartUntilRunsEnd, runJournal, startedRunId } from '../helpers/crashDaemon';
import { hangNext, ledger, stopHanging } from '../helpers/ledgerConnector';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let provider: string;

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
});
afterEach(async () => {
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

const STEP = (id: string, action: string) => `  - id: ${id}
    type: connector
    use: ledger
    action: ${action}
    with: ${action === 'fail' ? '{}' : '{ item: "a" }'}
`;

/**
 * Starts a runbook of these steps, kills the daemon once the provider has carried out `hang`
 * (which then never answers), and starts the daemon again; resolves with the run as it ended.
 */
async function killBetweenIntentAndResult(steps: string, hang: string): Promise<RunSummary> {
  await writeFile(
    join(dirs.workspace, 'runbooks', 'once.yaml'),
    `apiVersion: keel/v1\nname: once\nrole: Tester\ndescription: Killed in the middle of.\nsteps:\n${steps}`,
  );
  await hangNext(provider, hang);
  const first = ledgerDaemonProcess(dirs, 'once');
  await waitFor(
    'the provider to carry the action out',
    () =>
      stat(join(provider, 'hung')).then(
        () => true,
        () => false,
      ),
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${first.stderr()}`);
  });
  const runId = startedRunId(first);
  const journal = await runJournal(dirs, runId);
  // Killed between the hung action's intent and its result.
  const intents = journal.filter((r) => r.type === 'effectIntent');
  expect(intents.at(-1)).toMatchObject({ action: hang });
  expect(journal.filter((r) => r.type === 'effect')).toHaveLength(intents.length - 1);
  first.child.kill('SIGKILL');
  await first.exited;
  await stopHanging(provider);

  const ended = await restartUntilRunsEnd(dirs);
  expect(ended.map((run) => run.id)).toEqual([runId]);
  return ended[0]!;
}

it('an action the provider can be asked about is found done after kill -9, not done again', async () => {
  const run = await killBetweenIntentAndResult(STEP('act', 'add'), 'add');
  expect(run.status, run.error ?? '').toBe('succeeded');
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['add']);
}, 120_000);

it('an action without find is not done again after kill -9: the run names it for the operator', async () => {
  const run = await killBetweenIntentAndResult(STEP('act', 'push'), 'push');
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/ledger\.push \(\S+:act\) was cut off/);
  expect(run.error).toMatch(/Check the provider, then take the run over: "keel resume \S+ --from act"/);
  // Named once, by the step that stopped on it, not again by compensation.
  expect(run.error!.match(/was cut off/g)).toHaveLength(1);
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['push']);
}, 120_000);

it('compensation killed in the middle of an undo resumes without undoing twice', async () => {
  const run = await killBetweenIntentAndResult(STEP('act', 'add') + STEP('boom', 'fail'), 'remove');
  expect(run.status).toBe('failed');
  expect(run.error).toContain('step "boom" failed');
  expect(run.error).not.toContain('needs the operator');
  expect((await ledger(provider)).map((e) => e.op)).toEqual(['add', 'remove']);
}, 120_000);
