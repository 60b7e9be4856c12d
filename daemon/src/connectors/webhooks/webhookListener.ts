/**
 * The webhook listener: an HTTP server on keel.yaml's `webhooks: { host, port }` that routes
 * `POST /hooks/<instance>` to that connector instance's `webhook.verify` and hands what it accepts
 * to the event path (one run per trigger and event id). Nothing from outside can stall the daemon:
 * bodies are capped (413), slow clients are cut off after `timeoutSeconds`, and one delivery is
 * read at a time per connection. Unknown or untrusted instances are 404, so the listener does not
 * tell a stranger which connectors exist.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhooksConfig } from '@keel/schemas';
import type { Logger } from '../../log';
import type { ConnectorInstance } from '../registry';
import { WebhookRejected, type ActionContext } from '../sdk';

export interface WebhookListenerOptions {
  config: WebhooksConfig;
  log: Logger;
  /** The trusted instance of this name that receives webhooks, or null. */
  receiver: (name: string) => ConnectorInstance | null;
  /** The instance's context (credentials redacted); throws unless it is trusted. */
  context: (instance: ConnectorInstance, signal: AbortSignal) => Omit<ActionContext, 'idempotencyKey'>;
  /** Hands the accepted events over (EventPollers.deliver); rejects when no run can be started now. */
  deliver: (
    instance: ConnectorInstance,
    events: { name: string; id: string; payload: unknown }[],
  ) => Promise<unknown>;
}

const ROUTE = /^\/hooks\/([a-z][a-z0-9-]*)\/?$/;
/** Connections served at once; more are closed as they come. */
const MAX_CONNECTIONS = 32;

export class WebhookListener {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  /** Listens; rejects with a message naming keel.yaml when the port is taken or the host unusable. */
  static async start(options: WebhookListenerOptions): Promise<WebhookListener> {
    const { config } = options;
    const timeoutMs = config.timeoutSeconds * 1000;
    // Loaded here: nothing else in a `keel` command needs Node's HTTP server (1.6 ms; issue 14).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded late (issue 14)
    const { createServer } = require('node:http') as typeof import('node:http');
    const server = createServer(
      {
        requestTimeout: timeoutMs,
        headersTimeout: timeoutMs,
        connectionsCheckingInterval: Math.min(1000, timeoutMs / 2),
        maxHeaderSize: 16 * 1024,
      },
      (request, response) => void handle(options, request, response),
    );
    server.keepAliveTimeout = Math.min(5000, timeoutMs);
    // Each connection may hold a body of up to maxBodyBytes: a flood of them is refused at the door
    // rather than held in memory (a sender retries a refused delivery).
    server.maxConnections = MAX_CONNECTIONS;
    // An idle connection (nothing sent at all) is cut off too.
    server.setTimeout(timeoutMs, (socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const where = `${config.host}:${config.port}`;
        reject(
          new Error(
            error.code === 'EADDRINUSE'
              ? `the webhook listener cannot listen on ${where}: the port is in use; choose another webhooks.port in keel.yaml`
              : `the webhook listener cannot listen on ${where} (${error.code ?? error.message}): check webhooks.host and webhooks.port in keel.yaml`,
          ),
        );
      });
      server.listen(config.port, config.host, () => resolve());
    });
    server.on('error', (error) => options.log.warn('the webhook listener failed', { error }));
    const address = server.address() as AddressInfo;
    options.log.info('the webhook listener listens', { host: config.host, port: address.port });
    return new WebhookListener(server, address.port, config.host);
  }

  /** Stops listening and cuts off every connection, so a stopped daemon answers nothing. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(
  options: WebhookListenerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const receivedAt = Date.now();
  const route = ROUTE.exec((request.url ?? '').split('?')[0] ?? '');
  const instance = route ? options.receiver(route[1]!) : null;
  if (!instance) return answer(response, 404, 'no webhook receiver here', request);
  if (request.method !== 'POST') return answer(response, 405, 'deliveries are POSTed', request);
  const limit = options.config.maxBodyBytes;
  if (Number(request.headers['content-length'] ?? 0) > limit) {
    return answer(response, 413, `the body is larger than ${limit} bytes`, request);
  }
  const body = await readBody(request, limit);
  if (body === 'too large') return answer(response, 413, `the body is larger than ${limit} bytes`, request);
  if (body === null) return; // the client went away
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const about = { connector: instance.name };
  let events: { name: string; id: string; payload: unknown }[];
  try {
    const context = options.context(instance, AbortSignal.timeout(10_000));
    events = instance.connector.webhook!.verify({ body, headers, receivedAt }, context).events;
  } catch (error) {
    if (error instanceof WebhookRejected) {
      options.log.info('a webhook delivery was refused', {
        ...about,
        status: error.status,
        reason: error.message,
      });
      return answer(response, error.status, error.message, request);
    }
    options.log.warn('a webhook delivery could not be checked', { ...about, error });
    return answer(response, 500, 'the delivery could not be checked; see the Keel log', request);
  }
  try {
    await options.deliver(instance, events);
  } catch (error) {
    options.log.warn('a webhook delivery was verified but no run could start; the sender should retry', {
      ...about,
      error,
    });
    return answer(response, 503, 'no run can start now; deliver again later', request);
  }
  options.log.info('a webhook delivery was accepted', { ...about, events: events.map((e) => e.id) });
  answer(
    response,
    200,
    'accepted',
    request,
    events.map((e) => e.id),
  );
}

/** The raw body, 'too large' past `limit` (nothing more is read), or null when the client left. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too large' | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.pause();
        resolve('too large');
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', () => resolve(null));
    request.on('close', () => resolve(request.complete ? Buffer.concat(chunks) : null));
  });
}

function answer(
  response: ServerResponse,
  status: number,
  message: string,
  request: IncomingMessage,
  events?: string[],
): void {
  if (response.headersSent || response.destroyed) return;
  // An unread body (413, or a refusal before reading) closes the connection instead of draining it.
  const unread = !request.complete;
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(unread ? { connection: 'close' } : {}),
  });
  response.end(JSON.stringify({ ok: status < 300, message, ...(events ? { events } : {}) }), () => {
    if (unread) request.socket.destroy();
  });
}
