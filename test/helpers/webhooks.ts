/** Signed deliveries to a daemon's webhook listener over real HTTP, and a free loopback port. */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { signWebhook } from '../../daemon/src/connectors/http/webhook';

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** POSTs `body` to `/hooks/<name>`, signed with `secret` at `timestamp` (seconds) unless `signature` is given. */
export function postHook(
  port: number,
  name: string,
  body: string,
  options: { secret?: string; timestamp?: number; signature?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    options.signature ?? (options.secret ? signWebhook(options.secret, timestamp, body) : undefined);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/hooks/${name}`,
        headers: {
          'content-type': 'application/json',
          ...(signature ? { 'x-keel-signature': signature } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
