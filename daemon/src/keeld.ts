/**
 * keeld over the LSP connection: the entry point the VS Code extension starts through
 * vscode-languageclient (node-ipc). It also serves the JSON-RPC socket for the CLI.
 * Usage: keeld.js --workspace DIR [--node-ipc | --stdio]
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createConnection,
  ProposedFeatures,
  ResponseError,
  type InitializeParams,
  type InitializeError,
} from 'vscode-languageserver/node';
import { ErrorCodes } from '@keel/schemas';
import { Daemon } from './daemon';
import { createLogger } from './log';
import { serveOverLsp } from './rpc/lspTransport';
import { rpcErrorOf } from './rpc/rpcErrors';
import { KEEL_VERSION } from './version';

const connection = createConnection(ProposedFeatures.all);
// The editor shows these in Keel's output channel at their own level (Keel: Show Logs).
const log = createLogger({
  write: (line, level) => {
    const text = line.replace(/^\S+ \S+\s+/, ''); // The channel adds its own time and level.
    if (level === 'error') connection.console.error(text);
    else if (level === 'warn') connection.console.warn(text);
    else if (level === 'info') connection.console.info(text);
    else connection.console.log(text);
  },
});
let daemon: Daemon | null = null;

connection.onInitialize(async (params) => {
  const workspace = workspaceFrom(params);
  if (!workspace) {
    return new ResponseError<InitializeError>(
      ErrorCodes.InvalidParams,
      'Keel needs a workspace folder: open a folder in VS Code.',
      { retry: false },
    );
  }
  try {
    daemon = await Daemon.start({ workspace, mode: 'daemon', log });
  } catch (error) {
    // A second daemon on the folder answers DaemonAlreadyRunning, naming the one that runs.
    const code = rpcErrorOf(error)?.code ?? ErrorCodes.InternalError;
    log.error('daemon failed to start', { error });
    return new ResponseError<InitializeError>(code, (error as Error).message, { retry: false });
  }
  const capabilities = serveOverLsp(connection, daemon);
  // Whoever stopped the daemon (keel stop, the editor), the process ends with it.
  void daemon.stopped.then(() => setTimeout(() => process.exit(0), 100));
  return { capabilities, serverInfo: { name: 'keeld', version: KEEL_VERSION } };
});

connection.onShutdown(async () => {
  await daemon?.stop('the editor shut the daemon down');
});

connection.listen();

function workspaceFrom(params: InitializeParams): string | null {
  const index = process.argv.indexOf('--workspace');
  const fromArgs = index >= 0 ? process.argv[index + 1] : undefined;
  const uri = params.workspaceFolders?.[0]?.uri;
  const folder = fromArgs ?? (uri ? fileURLToPath(uri) : null);
  return folder ? realpathSync(folder) : null;
}
