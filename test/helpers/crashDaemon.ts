/**
 * The daemon of kill -9 tests: test/helpers/ledgerDaemon.ts as its own node process (so SIGKILL
 * reaches the daemon and nothing survives it), and the sequence every exactly-once test plays
 * with it: start a run, kill the daemon between an action's intent and its result, start it again
 * and read how the run ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import { readJournal } from '../../daemon/src/conductor/journal';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { keelEnv, REPO_ROOT, waitFor } from './processes';
import type { TempDirs } from './workspace';

const DAEMON = join(REPO_ROOT, 'test', 'helpers', 'ledgerDaemon.ts');

export interface DaemonProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** Starts the daemon on `dirs.workspace`; it starts `runbook` if named, else waits for every run to end. */
export function ledgerDaemonProcess(dirs: TempDirs, runbook?: string): DaemonProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', DAEMON, dirs.workspace, ...(runbook ? [runbook] : [])],
    { cwd: REPO_ROOT, env: keelEnv(dirs.runtime), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** The id of the run a daemon started with a runbook printed (`started <id>`). */
export function startedRunId(daemon: DaemonProcess): string {
  return /started (\S+)/.exec(daemon.stdout())![1]!;
}

/** A run's journal as the daemon wrote it to `.keel/runs/<id>.jsonl`. */
export function runJournal(dirs: TempDirs, runId: string) {
  return readJournal(join(dirs.workspace, '.keel/runs', `${runId}.jsonl`), new StateSeal(dirs.workspace));
}

/** Starts the daemon again without a runbook; once it exited (code 0), the runs as they ended. */
export async function restartUntilRunsEnd(dirs: TempDirs): Promise<RunSummary[]> {
  const second = ledgerDaemonProcess(dirs);
  const code = await second.exited;
  expect(code, second.stderr()).toBe(0);
  return second
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('ended '))
    .map((line) => JSON.parse(line.slice('ended '.length)) as RunSummary);
}

/**
 * Starts `runbook` (of one connector action), waits until the server did what `acted` checks
 * while the daemon still waits for the answer, kills the daemon (the journal holds the action's
 * intent and not its result) and starts it again; resolves with the run as it ended.
 */
export async function killAfterServerActed(
  dirs: TempDirs,
  runbook: string,
  what: string,
  acted: () => Promise<boolean>,
): Promise<RunSummary> {
  const first = ledgerDaemonProcess(dirs, runbook);
  await waitFor(what, acted, 60_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${first.stderr()}`);
  });
  const runId = startedRunId(first);
  const journal = await runJournal(dirs, runId);
  expect(journal.filter((r) => r.type === 'effectIntent')).toHaveLength(1);
  expect(journal.filter((r) => r.type === 'effect')).toHaveLength(0);
  first.child.kill('SIGKILL');
  await first.exited;

  const ended = await restartUntilRunsEnd(dirs);
  expect(ended.map((run) => run.id)).toEqual([runId]);
  return ended[0]!;
}
