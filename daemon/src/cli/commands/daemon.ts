/** `keel daemon`: run the workspace's daemon in the foreground, serving the JSON-RPC socket. */
import type { Command } from 'commander';
import { Daemon } from '../../daemon';
import { createLogger } from '../../log';
import { resolveWorkspace } from '../../workspace/locate';
import type { CliContext } from '../context';

export function registerDaemon(program: Command, context: CliContext): void {
  program
    .command('daemon')
    .description('run the daemon for this workspace in the foreground (Ctrl+C or "keel stop" ends it)')
    .action(async () => {
      const workspace = resolveWorkspace(context.workspaceOption());
      // A long-lived daemon logs what it does (info and up), unlike a one-command daemon.
      const daemon = await Daemon.start({ workspace, mode: 'daemon', log: createLogger() });
      const stop = (signal: string): void => void daemon.stop(`received ${signal}`);
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.stderr.write(
        `Keel daemon serving ${workspace} (pid ${process.pid}, socket ${daemon.status().socketPath}).\n` +
          'Stop it with Ctrl+C or "keel stop".\n',
      );
      await daemon.stopped;
    });
}
