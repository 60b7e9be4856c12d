/** `keel stop`: ask the workspace's running daemon to shut down, and wait until it has. */
import type { Command } from 'commander';
import { EmergencyStopRequest, ShutdownRequest } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { isProcessAlive, WorkspaceLock } from '../../runtime/workspaceLock';
import { attachToDaemon, withWorkspace } from '../connect';
import type { CliContext } from '../context';

const EXIT_WAIT_MS = 10_000;

export function registerStop(program: Command, context: CliContext): void {
  program
    .command('stop')
    .description("stop this workspace's running daemon; --all: emergency stop of every run instead")
    .option('--all', 'emergency stop: halt every run now and refuse new ones until "keel resume"')
    .option('-r, --reason <text>', 'why (shown in the sidebar), with --all')
    .action(async (options: { all?: boolean; reason?: string }) => {
      const workspace = resolveWorkspace(context.workspaceOption());
      if (options.all) {
        const state = await withWorkspace(workspace, context.log, ({ client }) =>
          client.request(EmergencyStopRequest, options.reason ? { reason: options.reason } : {}),
        );
        process.stdout.write(
          `Emergency stop since ${state.stoppedAt}: every run is halted and none starts until "keel resume".\n`,
        );
        return;
      }
      const holder = await WorkspaceLock.holder(workspace);
      if (!holder || holder.mode !== 'daemon') {
        process.stdout.write(`No Keel daemon is running for ${workspace}.\n`);
        return;
      }
      const client = await attachToDaemon(workspace);
      try {
        await client.request(ShutdownRequest, { reason: 'keel stop' });
      } finally {
        await client.close();
      }
      if (await waitForExit(holder.pid, EXIT_WAIT_MS)) {
        process.stdout.write(`Stopped the Keel daemon for ${workspace} (pid ${holder.pid}).\n`);
      } else {
        process.stderr.write(
          `The Keel daemon (pid ${holder.pid}) did not exit within ${EXIT_WAIT_MS / 1000}s; ` +
            `end it with "kill ${holder.pid}".\n`,
        );
        process.exitCode = 1;
      }
    });
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isProcessAlive(pid);
}
