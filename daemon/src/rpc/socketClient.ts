/**
 * A client of the daemon's JSON-RPC socket: connects, authenticates with the token, sends typed
 * requests (results checked against their schemas) and receives the daemon's notifications.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { JSONRPCClient, JSONRPCErrorException, type JSONRPCResponse } from 'json-rpc-2.0';
import {
  AuthRequest,
  KeelRpcError,
  type NotificationDefinition,
  type ParamsOf,
  type RequestDefinition,
  type ResultOf,
} from '@keel/schemas';
import type { KeelClient } from './client';

export class SocketClient implements KeelClient {
  private readonly rpc: JSONRPCClient;
  private readonly listeners = new Map<string, Set<(params: unknown) => void>>();
  private readonly closeListeners = new Set<() => void>();

  private constructor(private readonly socket: Socket) {
    this.rpc = new JSONRPCClient((request) => {
      if (socket.destroyed) throw new Error('The connection to the Keel daemon is closed');
      socket.write(JSON.stringify(request) + '\n');
    });
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => this.receive(line));
    // readline re-emits the socket's errors (a daemon killed with replies unread: ECONNRESET);
    // the socket's own listener ends the connection, and 'close' rejects what is pending.
    lines.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.rpc.rejectAllPendingRequests('The Keel daemon closed the connection');
      for (const listener of this.closeListeners) listener();
    });
  }

  /** Connects without authenticating; most callers want `connectAndAuthenticate`. */
  static connect(socketPath: string): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => socket.destroy());
        resolve(new SocketClient(socket));
      });
      socket.once('error', reject);
    });
  }

  static async connectAndAuthenticate(
    socketPath: string,
    token: string,
    clientName: string,
  ): Promise<SocketClient> {
    const client = await SocketClient.connect(socketPath);
    try {
      await client.request(AuthRequest, { token, client: clientName });
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  async request<T extends RequestDefinition>(definition: T, params?: ParamsOf<T>): Promise<ResultOf<T>> {
    let raw: unknown;
    try {
      raw = await this.rpc.request(definition.method, params ?? {}, undefined);
    } catch (error) {
      if (error instanceof JSONRPCErrorException) {
        throw new KeelRpcError(error.code, error.message, error.data);
      }
      throw error;
    }
    return definition.result.parse(raw) as ResultOf<T>;
  }

  onNotification<T extends NotificationDefinition>(
    definition: T,
    handler: (params: z.output<T['params']>) => void,
  ): () => void {
    const listener = (params: unknown): void => {
      const parsed = definition.params.safeParse(params);
      if (parsed.success) handler(parsed.data as z.output<T['params']>);
    };
    const set = this.listeners.get(definition.method) ?? new Set();
    set.add(listener);
    this.listeners.set(definition.method, set);
    return () => set.delete(listener);
  }

  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private receive(line: string): void {
    if (line.trim() === '') return;
    let message: { id?: unknown; method?: string; params?: unknown };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      return;
    }
    if (typeof message.method === 'string' && message.id === undefined) {
      for (const listener of this.listeners.get(message.method) ?? []) listener(message.params);
      return;
    }
    this.rpc.receive(message as JSONRPCResponse);
  }
}
