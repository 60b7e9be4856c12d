/**
 * How a CLI command reaches its workspace's daemon: attach to the running one over its socket, or,
 * when none runs, start one in this process for the duration of the command.
 */
import { Daemon } from '../daemon';
import type { Logger } from '../log';
import type { KeelClient } from '../rpc/client';
import { InProcessClient } from '../rpc/inProcessClient';
import { SocketClient } from '../rpc/socketClient';
import { socketPathFor, tokenPathFor } from '../runtime/paths';
import { readToken } from '../runtime/token';
import { DaemonAlreadyRunningError, WorkspaceLock, type LockInfo } from '../runtime/workspaceLock';
import { KEEL_VERSION } from '../version';

export interface WorkspaceConnection {
  readonly client: KeelClient;
  /** The running daemon attached to, or null when the command runs its own in-process daemon. */
  readonly daemon: LockInfo | null;
}

const CLIENT_NAME = `keel-cli/${KEEL_VERSION}`;

/**
 * Attaches to the workspace's running daemon. The socket and token are where this user's daemon
 * for this workspace puts them (the per-user runtime directory), never where a file says.
 */
export async function attachToDaemon(workspace: string): Promise<SocketClient> {
  const socketPath = socketPathFor(workspace);
  const token = await readToken(tokenPathFor(socketPath));
  return SocketClient.connectAndAuthenticate(socketPath, token, CLIENT_NAME);
}

/** How long a command waits for a daemon that holds the lock but does not serve its socket yet. */
const STARTING_WAIT_MS = 30_000;

export async function connectToWorkspace(workspace: string, log: Logger): Promise<WorkspaceConnection> {
  const deadline = Date.now() + STARTING_WAIT_MS;
  for (let attempt = 0; attempt < 3; attempt++) {
    let holder = await WorkspaceLock.holder(workspace);
    while (holder?.mode === 'daemon' && !holder.serving && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      holder = await WorkspaceLock.holder(workspace);
    }
    if (holder?.mode === 'daemon') return { client: await attachToDaemon(workspace), daemon: holder };
    if (holder) throw new DaemonAlreadyRunningError(workspace, holder);
    try {
      const daemon = await Daemon.start({ workspace, mode: 'in-process', log });
      return { client: new InProcessClient(daemon), daemon: null };
    } catch (error) {
      // A daemon started between our look and our start: attach to it instead.
      if (!(error instanceof DaemonAlreadyRunningError)) throw error;
    }
  }
  throw new Error(`Could not reach a Keel daemon for ${workspace}; try again.`);
}

/** Runs `body` with a connection to the workspace, and always closes it. */
export async function withWorkspace<T>(
  workspace: string,
  log: Logger,
  body: (connection: WorkspaceConnection) => Promise<T>,
): Promise<T> {
  const connection = await connectToWorkspace(workspace, log);
  try {
    return await body(connection);
  } finally {
    await connection.client.close();
  }
}
