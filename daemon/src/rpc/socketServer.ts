/**
 * The JSON-RPC 2.0 transport for the CLI and other local clients: newline-delimited JSON over a
 * unix socket (mode 0600, in a 0700 directory). A connection must first send `keel/auth` with the
 * daemon's token; anything else is refused, and a wrong token closes the connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { chmod, rm } from 'node:fs/promises';
import { timingSafeEqual } from 'node:crypto';
import {
  JSONRPCErrorException,
  JSONRPCServer,
  createJSONRPCErrorResponse,
  type JSONRPCResponse,
} from 'json-rpc-2.0';
import { AuthRequest, ErrorCodes, KeelRpcError, type ResultOf } from '@keel/schemas';
import type { Logger } from '../log';
import type { Router } from './router';

interface Session {
  readonly id: number;
  readonly socket: Socket;
  authenticated: boolean;
  /** Set when the connection must close once the current answer is written. */
  closeAfterReply: boolean;
}

export interface SocketServerOptions {
  socketPath: string;
  token: string;
  router: Router;
  log: Logger;
  /** What `keel/auth` answers on success. */
  describe: () => ResultOf<typeof AuthRequest>;
}

export class SocketServer {
  private readonly sessions = new Set<Session>();
  private readonly rpc = new JSONRPCServer<Session>();
  private nextId = 1;

  private constructor(
    private readonly server: Server,
    private readonly options: SocketServerOptions,
  ) {
    this.rpc.applyMiddleware(async (next, request, session) => {
      if (session.authenticated || request.method === AuthRequest.method) return next(request, session);
      session.closeAfterReply = true;
      return createJSONRPCErrorResponse(
        request.id ?? null,
        ErrorCodes.Unauthorized,
        `Not authenticated: send ${AuthRequest.method} with the daemon's token first`,
      );
    });
    this.rpc.addMethod(AuthRequest.method, (params, session) => this.authenticate(params, session));
    for (const method of options.router.methods()) {
      this.rpc.addMethod(method, async (params) => {
        try {
          return await options.router.dispatch(method, params, { transport: 'socket' });
        } catch (error) {
          if (error instanceof KeelRpcError) {
            throw new JSONRPCErrorException(error.message, error.code, error.data);
          }
          throw error;
        }
      });
    }
  }

  /** Listens on `socketPath`, replacing a socket file left behind by a crashed daemon. */
  static async listen(options: SocketServerOptions): Promise<SocketServer> {
    await rm(options.socketPath, { force: true });
    const server = createServer();
    const transport = new SocketServer(server, options);
    server.on('connection', (socket) => transport.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(options.socketPath, 0o600);
    return transport;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Sends a notification to every authenticated connection. */
  notify(method: string, params: unknown): void {
    const line = JSON.stringify({ jsonrpc: '2.0', method, params }) + '\n';
    for (const session of this.sessions) {
      if (session.authenticated && !session.socket.destroyed) session.socket.write(line);
    }
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.socket.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.options.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    const session: Session = { id: this.nextId++, socket, authenticated: false, closeAfterReply: false };
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
    socket.on('error', (error) =>
      this.options.log.debug('socket client error', { session: session.id, error }),
    );
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      void this.receive(line, session);
    });
  }

  private async receive(line: string, session: Session): Promise<void> {
    let response: JSONRPCResponse | JSONRPCResponse[] | null;
    try {
      response = await this.rpc.receiveJSON(line, session);
    } catch (error) {
      this.options.log.error('socket request failed', { session: session.id, error });
      return;
    }
    if (response && !session.socket.destroyed) session.socket.write(JSON.stringify(response) + '\n');
    if (session.closeAfterReply) session.socket.end();
  }

  private authenticate(params: unknown, session: Session): ResultOf<typeof AuthRequest> {
    const parsed = AuthRequest.params.safeParse(params);
    if (!parsed.success || !sameSecret(parsed.data.token, this.options.token)) {
      session.closeAfterReply = true;
      this.options.log.warn('socket client sent a wrong token; connection closed', { session: session.id });
      throw new JSONRPCErrorException('Invalid token', ErrorCodes.Unauthorized);
    }
    session.authenticated = true;
    this.options.log.debug('socket client authenticated', {
      session: session.id,
      client: parsed.data.client ?? 'unknown',
    });
    return this.options.describe();
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
