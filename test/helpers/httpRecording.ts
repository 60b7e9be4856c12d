/**
 * Recorded HTTP exchanges for offline contract tests (billing@1 against Stripe, http@1 against a
 * JSON API): a recording relay between a connector and a real server on loopback keeps each
 * request's method, path and query and the server's status, body and the headers a connector
 * reads (never the request's headers: the token stays out); a replay server answers the same
 * requests, in order, from the recording, and lists any request it did not expect.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface Exchange {
  method: string;
  /** Path and query, as sent. */
  path: string;
  status: number;
  body: string;
  /** The answer's headers a connector reads (`content-type`, `server`); JSON when absent. */
  headers?: Record<string, string>;
}

/** The answer headers a recording keeps. */
const KEPT_HEADERS = ['content-type', 'server'];

export async function requestBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** Answers each request with the next recorded exchange of the same method and path (query aside). */
export async function replayServer(
  exchanges: Exchange[],
): Promise<{ url: string; unexpected: string[]; close(): Promise<void> }> {
  const left = [...exchanges];
  const unexpected: string[] = [];
  const server = createServer((request, response) => {
    void requestBody(request).then(() => {
      const path = (request.url ?? '/').split('?')[0];
      const index = left.findIndex((e) => e.method === request.method && e.path.split('?')[0] === path);
      if (index < 0) {
        unexpected.push(`${request.method} ${request.url}`);
        response
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"message":"not recorded"}}');
        return;
      }
      const [exchange] = left.splice(index, 1);
      const headers = exchange!.headers ?? { 'content-type': 'application/json' };
      response.writeHead(exchange!.status, headers).end(exchange!.body);
    });
  });
  const url = await listen(server);
  return {
    url,
    unexpected,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A relay on loopback to `target`: forwards each request (method, path, authorization, content
 * type and body) and its answer, and keeps the exchange in `exchanges`.
 */
export async function recordingRelay(
  target: string,
): Promise<{ url: string; exchanges: Exchange[]; close(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const relay = createServer((request, response) => {
    void (async () => {
      const sent = await requestBody(request);
      const method = request.method ?? 'GET';
      const answer = await fetch(`${target}${request.url}`, {
        method,
        headers: {
          authorization: request.headers.authorization ?? '',
          'content-type': request.headers['content-type'] ?? 'application/x-www-form-urlencoded',
        },
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: sent }),
      });
      const text = await answer.text();
      const headers = Object.fromEntries(
        KEPT_HEADERS.flatMap((name) => {
          const value = answer.headers.get(name);
          return value === null ? [] : [[name, value]];
        }),
      );
      exchanges.push({ method, path: request.url ?? '/', status: answer.status, body: text, headers });
      response.writeHead(answer.status, headers).end(text);
    })();
  });
  const url = await listen(relay);
  return { url, exchanges, close: () => new Promise((resolve) => relay.close(() => resolve())) };
}
