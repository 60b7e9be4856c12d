/**
 * A daemon in this process, as the editor starts one, already trusted by the operator, with a
 * client; the workspace's git repository; and waiting for a run to reach a status.
 */
import { execFileSync } from 'node:child_process';
import { RunGetRequest, RunStartRequest, type RunSummary } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger, type Logger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { waitFor } from './processes';
import { trust } from './trust';

export interface InProcessDaemon {
  daemon: Daemon;
  client: InProcessClient;
}

/** `log`: where the daemon's log goes (errors only, to stderr, by default). */
export async function startTrustedDaemon(
  workspace: string,
  log: Logger = createLogger({ level: 'error' }),
): Promise<InProcessDaemon> {
  const daemon = await Daemon.start({ workspace, mode: 'daemon', log });
  const client = new InProcessClient(daemon);
  await trust(daemon);
  return { daemon, client };
}

/** Runs git in the workspace and returns what it printed. */
export function git(workspace: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: workspace, encoding: 'utf8' });
}

/** Makes the workspace a git repository (Maya commits) holding everything in it. */
export function commitWorkspace(workspace: string): void {
  git(workspace, 'init', '-q');
  git(workspace, 'config', 'user.name', 'Maya');
  git(workspace, 'config', 'user.email', 'maya@example.com');
  git(workspace, 'add', '-A');
  git(workspace, 'commit', '-q', '-m', 'Start');
}

/** Starts `runbook` and resolves with the run once it has ended, whatever its status. */
export async function runToEnd(
  client: InProcessClient,
  runbook: string,
  inputs: Record<string, string | number | boolean> = {},
): Promise<RunSummary> {
  const { id } = await client.request(RunStartRequest, { runbook, inputs });
  return waitFor(`run ${id}`, async () => {
    const { run } = await client.request(RunGetRequest, { id });
    return run.endedAt ? run : null;
  });
}

/** Resolves with the run once it has this status. */
export function runReaches(
  client: InProcessClient,
  id: string,
  status: RunSummary['status'],
  timeoutMs = 15_000,
): Promise<RunSummary> {
  return waitFor(
    `run ${id} ${status}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id });
      return run.status === status ? run : null;
    },
    timeoutMs,
  );
}
