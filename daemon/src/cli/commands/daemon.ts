/** `keel daemon`: run the workspace's daemon in the foreground, serving the JSON-RPC socket. */
import type { Command } from 'commander';
import { Daemon } from '../../daemon';
import { createLogger } from '../../log';
import { InProcessClient } from '../../rpc/inProcessClient';
import { resolveWorkspace } from '../../workspace/locate';
import { ensureTrusted, NotTrustedError } from '../trustPrompt';
import type { CliContext } from '../context';

export function registerDaemon(program: Command, context: CliContext): void {
  program
    .command('daemon')
    .description('run the daemon for this workspace in the foreground (Ctrl+C or "keel stop" ends it)')
    .action(async () => {
      const workspace = resolveWorkspace(context.workspaceOption());
      // A long-lived daemon logs what it does (info and up), unlike a one-command daemon.
      const daemon = await Daemon.start({ workspace, mode: 'daemon', log: createLogger() });
      // Asked here, on a terminal, before anything is sent; otherwise the daemon serves restricted.
      // (This client is not closed: closing an in-process client stops its daemon.)
      const client = new InProcessClient(daemon);
      const trust = await ensureTrusted(client, {
        yes: context.yes(),
        command: 'keel daemon',
        triggers: true,
      }).catch((error: unknown) => {
        if (!(error instanceof NotTrustedError)) throw error;
        return null;
      });
      if (!trust?.trusted) {
        process.stderr.write(
          'This workspace is not trusted: Keel indexes and searches it locally, sends nothing and runs nothing. ' +
            'Grant trust with "keel trust" (in another terminal) or from the editor.\n',
        );
      }
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
