/**
 * A loopback relay for kill -9 tests: it passes everything between the daemon and a real server,
 * except that once the daemon sends a request matching a pattern, the server's answers on that
 * connection are no longer passed on. The request happens; the daemon never learns it did.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface MutingRelay {
  port: number;
  /** Whether a client sent a request matching the pattern (its connection has been mute since). */
  muted(): boolean;
  close(): Promise<void>;
}

/** A relay to `target` (on 127.0.0.1 unless `host` is given) that mutes a connection after `request`. */
export async function mutingRelay(
  target: { port: number; host?: string },
  request: RegExp,
): Promise<MutingRelay> {
  let muted = false;
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    open.add(socket).add(upstream);
    let mute = false;
    socket.on('data', (chunk: Buffer) => {
      if (request.test(chunk.toString('latin1'))) mute = muted = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!mute) socket.write(chunk);
    });
    const end = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    // A server may close a connection after answering (Radicale does): once muted, that close is
    // not passed on either, so the daemon keeps waiting for an answer, as for a server gone silent.
    socket.on('error', end);
    socket.on('close', () => {
      open.delete(socket);
      end();
    });
    upstream.on('error', () => (mute ? upstream.destroy() : end()));
    upstream.on('close', () => {
      open.delete(upstream);
      if (!mute) end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    muted: () => muted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
