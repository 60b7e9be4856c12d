/**
 * How `keel mcp`, a process an editor keeps running for hours, reaches the workspace: through the
 * running daemon's socket when there is one, else through a daemon of its own in this process,
 * which it lets go after a short idle time, so the editor's daemon can start and a later question
 * sees notes written since (an in-process daemon indexes once, when first asked).
 */
import type { Logger } from '../log';
import type { KeelClient } from '../rpc/client';
import { SocketClient } from '../rpc/socketClient';
import { connectToWorkspace, type WorkspaceConnection } from '../cli/connect';

/** How long an in-process daemon is kept after the last question. */
const IDLE_RELEASE_MS = 15_000;

export class WorkspaceLease {
  private connection: Promise<WorkspaceConnection> | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private busy = 0;
  /** Questions run one after another: one connection, one in-process daemon at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly workspace: string,
    private readonly log: Logger,
  ) {}

  /** Runs `body` with a client of the workspace's daemon; one question at a time. */
  use<T>(body: (client: KeelClient) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.run(body));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    await this.release();
  }

  private async run<T>(body: (client: KeelClient) => Promise<T>): Promise<T> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.busy++;
    try {
      const { client } = await this.connect();
      return await body(client);
    } finally {
      this.busy--;
      if (this.busy === 0) this.idleTimer = setTimeout(() => void this.release(), IDLE_RELEASE_MS);
    }
  }

  /** The connection now: a socket that closed (the daemon stopped) is replaced. */
  private async connect(): Promise<WorkspaceConnection> {
    const current = this.connection && (await this.connection.catch(() => null));
    if (current && !(current.client instanceof SocketClient && current.client.closed)) return current;
    this.connection = connectToWorkspace(this.workspace, this.log);
    this.connection.catch(() => (this.connection = null));
    return this.connection;
  }

  private async release(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    const open = await connection?.catch(() => null);
    await open?.client.close().catch(() => undefined);
  }
}
