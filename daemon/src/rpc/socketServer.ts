/**
 * The JSON-RPC 2.0 transport for the CLI and other local clients: newline-delimited JSON over a
 * unix socket (mode 0600, in a 0700 directory). A connection must first send `keel/auth` with the
 * daemon's token; anything else is refused, and a wrong token closes the connection.
 * Whatever a client sends or does (a line of hundreds of megabytes, a thousand idle connections,
 * a reset mid-request) costs the daemon a bounded amount and is that client's problem only.
 */
import { createServer, type Server, type Socket } from 'node:net';
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
  /** A request sent before authentication is being answered: until then, nothing else is read. */
  preAuthInFlight: boolean;
  authTimer: NodeJS.Timeout | null;
}

export interface SocketLimits {
  /** The longest request line, before and after authentication. */
  maxLineBytes: number;
  /** How long a connection may stay without a valid `keel/auth`. */
  authTimeoutMs: number;
  maxUnauthenticated: number;
  maxConnections: number;
}

export const SOCKET_LIMITS: SocketLimits = {
  maxLineBytes: 1024 * 1024,
  authTimeoutMs: 5_000,
  maxUnauthenticated: 32,
  maxConnections: 256,
};

export interface SocketServerOptions {
  socketPath: string;
  token: string;
  router: Router;
  log: Logger;
  /** What `keel/auth` answers on success. */
  describe: () => ResultOf<typeof AuthRequest>;
  limits?: Partial<SocketLimits>;
}

export class SocketServer {
  private readonly sessions = new Set<Session>();
  private readonly rpc = new JSONRPCServer<Session>();
  private nextId = 1;
  private readonly limits: SocketLimits;

  private constructor(
    private readonly server: Server,
    private readonly options: SocketServerOptions,
  ) {
    this.limits = { ...SOCKET_LIMITS, ...options.limits };
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
      if (session.authenticated) send(session, line);
    }
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.socket.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.options.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    // First, so that nothing a client does (reset, half-close, a write after it left) is unhandled.
    socket.on('error', (error) => this.options.log.debug('socket client error', { error }));
    const refusal = this.refusal();
    if (refusal) {
      this.options.log.warn(`socket connection refused: ${refusal}`);
      socket.end(errorLine(refusal));
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    const session: Session = {
      id: this.nextId++,
      socket,
      authenticated: false,
      closeAfterReply: false,
      preAuthInFlight: false,
      authTimer: setTimeout(() => {
        this.options.log.info('socket client did not authenticate in time; connection closed', {
          session: session.id,
        });
        this.drop(session, `Not authenticated within ${this.limits.authTimeoutMs / 1000} s`);
      }, this.limits.authTimeoutMs),
    };
    session.authTimer!.unref();
    this.sessions.add(session);
    socket.on('close', () => {
      if (session.authTimer) clearTimeout(session.authTimer);
      this.sessions.delete(session);
    });
    this.readLines(session, (line) => {
      if (line.trim() === '') return;
      if (session.authenticated) {
        void this.receive(line, session);
        return;
      }
      // Before authentication one request at a time (`keel/auth`): lines sent behind it are dropped.
      if (session.preAuthInFlight) return;
      session.preAuthInFlight = true;
      void this.receive(line, session).finally(() => (session.preAuthInFlight = false));
    });
  }

  /** Why a new connection cannot be taken now, or null. */
  private refusal(): string | null {
    if (this.sessions.size >= this.limits.maxConnections) {
      return `Too many connections (${this.limits.maxConnections}); try again later`;
    }
    let waiting = 0;
    for (const session of this.sessions) if (!session.authenticated) waiting++;
    if (waiting >= this.limits.maxUnauthenticated) {
      return `Too many connections waiting to authenticate (${this.limits.maxUnauthenticated}); try again later`;
    }
    return null;
  }

  /**
   * Newline-delimited frames, each at most `maxLineBytes`: a longer one closes the connection
   * before it is buffered, so a client streaming gigabytes without a newline costs 1 MiB at most.
   */
  private readLines(session: Session, onLine: (line: string) => void): void {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    session.socket.on('data', (data: Buffer) => {
      let start = 0;
      for (let end = data.indexOf(10); end !== -1; end = data.indexOf(10, start)) {
        const piece = data.subarray(start, end);
        if (pendingBytes + piece.length > this.limits.maxLineBytes) {
          this.tooLong(session);
          return;
        }
        const line = pendingBytes > 0 ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        pendingBytes = 0;
        start = end + 1;
        onLine(line.toString('utf8').replace(/\r$/, ''));
        if (session.socket.destroyed) return;
      }
      const rest = data.subarray(start);
      if (pendingBytes + rest.length > this.limits.maxLineBytes) {
        this.tooLong(session);
        return;
      }
      if (rest.length > 0) {
        pending.push(rest);
        pendingBytes += rest.length;
      }
    });
  }

  private tooLong(session: Session): void {
    this.options.log.warn('socket client sent a line over the size limit; connection closed', {
      session: session.id,
    });
    this.drop(session, `Request larger than ${this.limits.maxLineBytes / (1024 * 1024)} MiB`);
  }

  /** Answers a last error and closes the connection. */
  private drop(session: Session, message: string): void {
    send(session, errorLine(message));
    this.hangUp(session);
  }

  /** Closes the connection once its answers are written, dropping anything it still sends. */
  private hangUp(session: Session): void {
    if (session.authTimer) clearTimeout(session.authTimer);
    session.socket.removeAllListeners('data');
    session.socket.pause();
    session.socket.end();
    // Do not wait for a client that never reads its answer.
    setTimeout(() => session.socket.destroy(), 1_000).unref();
  }

  private async receive(line: string, session: Session): Promise<void> {
    let response: JSONRPCResponse | JSONRPCResponse[] | null;
    try {
      response = await this.rpc.receiveJSON(line, session);
    } catch (error) {
      this.options.log.error('socket request failed', { session: session.id, error });
      return;
    }
    if (response) send(session, JSON.stringify(response) + '\n');
    if (session.closeAfterReply) this.hangUp(session);
  }

  private authenticate(params: unknown, session: Session): ResultOf<typeof AuthRequest> {
    const parsed = AuthRequest.params.safeParse(params);
    if (!parsed.success || !sameSecret(parsed.data.token, this.options.token)) {
      session.closeAfterReply = true;
      this.options.log.warn('socket client sent a wrong token; connection closed', { session: session.id });
      throw new JSONRPCErrorException('Invalid token', ErrorCodes.Unauthorized);
    }
    session.authenticated = true;
    if (session.authTimer) clearTimeout(session.authTimer);
    session.authTimer = null;
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

/** What may wait unread for one client before it is dropped: a client that stops reading. */
const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

/**
 * Writes to a client unless it is gone (a client that left mid-request is not an error). A client
 * that stops reading (suspended with Ctrl+Z, a stalled editor) is disconnected once 8 MiB wait for
 * it, so answers and notifications never pile up in the daemon's memory.
 */
function send(session: Session, line: string): void {
  const { socket } = session;
  if (socket.destroyed || !socket.writable) return;
  if (socket.writableLength > MAX_UNREAD_BYTES) {
    socket.destroy();
    return;
  }
  socket.write(line);
}

function errorLine(message: string): string {
  return JSON.stringify(createJSONRPCErrorResponse(null, ErrorCodes.InvalidRequest, message)) + '\n';
}
