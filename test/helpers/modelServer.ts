/**
 * A scripted OpenAI-compatible model server for tests: real HTTP on 127.0.0.1, the real wire format
 * (JSON and server-sent events), and the failures a conductor must survive (error statuses with
 * Retry-After, dropped connections, a model that never answers). node:http only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import {
  argumentsText,
  completionBody,
  completionChunks,
  defaultUsage,
  embeddingsBody,
  errorBody,
  type Answer,
  type ScriptedToolCall,
  type Usage,
} from './openaiWire';

export type { ScriptedToolCall } from './openaiWire';

export type Fault =
  /** An OpenAI-style JSON error body; Retry-After (seconds) and retry-after-ms headers when given. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; retryAfterMs?: number; message?: string }
  /** Destroys the socket: before the headers for a plain request, after the first chunk of a stream. */
  | { kind: 'drop' }
  /** Never answers; the client's timeout or abort must end it. The socket closes with the server. */
  | { kind: 'hang' }
  /**
   * Sends the headers and the start of the body (the first chunk of a stream, half the JSON
   * otherwise), then nothing. The SDK's `timeout` only covers the wait for headers, so only the
   * caller's own AbortSignal ends this.
   */
  | { kind: 'stall' };

export interface ScriptedReply {
  /** Assistant text; '' by default. */
  content?: string;
  toolCalls?: ScriptedToolCall[];
  /** By default a quarter token per character of the request's messages and of the answer. */
  usage?: Usage;
  /** Waits this long before answering (a slow model). */
  delayMs?: number;
  fault?: Fault;
  /** 'tool_calls' when there are tool calls, else 'stop'. */
  finishReason?: string;
  /**
   * The model this answer says it came from (a provider that updated the model behind a name);
   * by default the server's `model`, else the one the request asked for.
   */
  model?: string;
}

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (null when it was not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary request fields
  body: any;
  /** performance.now() when the request arrived. */
  receivedAt: number;
}

export type ReplyHandler = (
  request: ReceivedRequest,
  index: number,
) => ScriptedReply | Promise<ScriptedReply>;

export interface ModelServerOptions {
  /** The model name answers report; by default the one each request asked for. */
  model?: string;
  /** When set, every request needs `Authorization: Bearer <apiKey>` and gets a 401 without it. */
  apiKey?: string;
}

const CHAT_PATH = '/v1/chat/completions';
const EMBEDDINGS_PATH = '/v1/embeddings';
const DEFAULT_DIMENSIONS = 64;

export class ModelServer {
  readonly baseUrl: string;
  /** Every request to /v1/chat/completions, in arrival order, rejected ones included. */
  readonly requests: ReceivedRequest[] = [];
  readonly embeddingRequests: ReceivedRequest[] = [];
  private readonly script: ScriptedReply[] = [];
  private handler: ReplyHandler | null = null;
  /** Aborted by close(): ends delays, so nothing outlives the server. */
  private readonly closing = new AbortController();
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: ModelServerOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}/v1`;
  }

  static async start(options: ModelServerOptions = {}): Promise<ModelServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const modelServer = new ModelServer(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      modelServer.serve(req, res).catch((error: unknown) => {
        // A bug in a handler or here must fail the test loudly, never leave the client hanging.
        if (!res.headersSent && !res.destroyed) {
          send(res, 500, errorBody(500, `ModelServer: ${(error as Error).message ?? String(error)}`));
        } else res.destroy();
      });
    });
    return modelServer;
  }

  /** Queues replies for /v1/chat/completions, answered first in, first out. */
  enqueue(...replies: ScriptedReply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** Answers requests that find the queue empty; `index` is the request's position in `requests`. */
  respondWith(handler: ReplyHandler): this {
    this.handler = handler;
    return this;
  }

  /** Stops listening and destroys every open socket, hanging ones included. */
  async close(): Promise<void> {
    this.closing.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A client that gives up mid-answer makes writes fail; that is the client's business.
    res.on('error', () => undefined);
    const receivedAt = performance.now();
    const path = (req.url ?? '').split('?')[0]!;
    const text = await readBody(req);
    const request: ReceivedRequest = { path, headers: req.headers, body: parseJson(text), receivedAt };
    if (req.method !== 'POST' || (path !== CHAT_PATH && path !== EMBEDDINGS_PATH)) {
      send(res, 404, errorBody(404, `Invalid URL (${req.method ?? ''} ${path})`));
      return;
    }
    (path === CHAT_PATH ? this.requests : this.embeddingRequests).push(request);
    const refusal = this.refuse(request, text);
    if (refusal) {
      send(res, refusal.status, errorBody(refusal.status, refusal.message, refusal.code));
      return;
    }
    if (path === EMBEDDINGS_PATH) this.answerEmbeddings(request, res);
    else await this.answerChat(request, this.requests.length - 1, res);
  }

  /** OpenAI's checks before any work: the key, then the JSON, then the required fields. */
  private refuse(
    request: ReceivedRequest,
    text: string,
  ): { status: number; message: string; code?: string } | null {
    if (this.options.apiKey !== undefined) {
      const header = request.headers.authorization;
      if (header !== `Bearer ${this.options.apiKey}`) {
        return {
          status: 401,
          message: header ? 'Incorrect API key provided.' : "You didn't provide an API key.",
          code: header ? 'invalid_api_key' : undefined,
        };
      }
    }
    const body = request.body as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return {
        status: 400,
        message: `We could not parse the JSON body of your request: ${text.slice(0, 80)}`,
      };
    }
    if (typeof body.model !== 'string' || body.model === '') {
      return { status: 400, message: 'You must provide a model parameter.' };
    }
    if (request.path === CHAT_PATH && (!Array.isArray(body.messages) || body.messages.length === 0)) {
      return { status: 400, message: "Missing required parameter: 'messages'." };
    }
    if (request.path === EMBEDDINGS_PATH && embeddingTexts(body.input) === null) {
      return { status: 400, message: "'$.input' is invalid: a non-empty string or array of strings." };
    }
    const encoding = body.encoding_format;
    if (
      request.path === EMBEDDINGS_PATH &&
      encoding !== undefined &&
      !['float', 'base64'].includes(encoding as string)
    ) {
      return { status: 400, message: `Invalid encoding_format: ${JSON.stringify(encoding)}.` };
    }
    return null;
  }

  private async answerChat(request: ReceivedRequest, index: number, res: ServerResponse): Promise<void> {
    const reply = this.script.shift() ?? (this.handler ? await this.handler(request, index) : null);
    if (!reply) {
      const message = `ModelServer: the script is exhausted (request #${index} found no enqueued reply and no respondWith handler).`;
      send(res, 500, errorBody(500, message));
      return;
    }
    if (reply.delayMs) {
      const gone = await sleep(reply.delayMs, false, { signal: this.closing.signal }).catch(() => true);
      if (gone || res.destroyed) return;
    }
    const fault = reply.fault;
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') {
      send(res, fault.status, errorBody(fault.status, fault.message ?? `Scripted error ${fault.status}.`), {
        ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
        ...(fault.retryAfterMs !== undefined ? { 'retry-after-ms': String(fault.retryAfterMs) } : {}),
      });
      return;
    }
    const body = request.body as {
      model: string;
      messages: unknown;
      stream?: unknown;
      stream_options?: unknown;
    };
    const answer = this.answer(reply, body);
    if (body.stream !== true) {
      if (fault?.kind === 'drop') res.socket?.destroy();
      else if (fault?.kind === 'stall') {
        const json = JSON.stringify(completionBody(answer));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(json.slice(0, json.length / 2));
      } else send(res, 200, completionBody(answer));
      return;
    }
    const includeUsage = (body.stream_options as { include_usage?: unknown } | null)?.include_usage === true;
    await this.stream(res, completionChunks(answer, includeUsage), fault?.kind);
  }

  private answer(reply: ScriptedReply, body: { model: string; messages: unknown }): Answer {
    this.sequence += 1;
    const withoutUsage = {
      id: `chatcmpl-keel${this.sequence}`,
      created: Math.floor(Date.now() / 1000),
      model: reply.model ?? this.options.model ?? body.model,
      content: reply.content ?? '',
      toolCalls: (reply.toolCalls ?? []).map((call, i) => ({
        id: `call_keel${this.sequence}_${i}`,
        name: call.name,
        arguments: argumentsText(call.arguments),
      })),
      finishReason: reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop'),
    };
    return { ...withoutUsage, usage: reply.usage ?? defaultUsage(body.messages, withoutUsage) };
  }

  /** Writes each chunk in its own turn, so clients see them arrive apart, as from a real model. */
  private async stream(
    res: ServerResponse,
    chunks: object[],
    fault: 'drop' | 'stall' | undefined,
  ): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const chunk of chunks) {
      if (res.destroyed) return;
      await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolve()));
      if (fault === 'drop') res.socket?.destroy();
      if (fault) return;
      await nextTurn();
    }
    res.end('data: [DONE]\n\n');
  }

  private answerEmbeddings(request: ReceivedRequest, res: ServerResponse): void {
    const body = request.body as {
      model: string;
      input: unknown;
      dimensions?: unknown;
      encoding_format?: unknown;
    };
    const dimensions =
      typeof body.dimensions === 'number' && body.dimensions > 0 ? body.dimensions : DEFAULT_DIMENSIONS;
    const encoding = body.encoding_format === 'base64' ? 'base64' : 'float';
    const texts = embeddingTexts(body.input)!;
    send(res, 200, embeddingsBody(texts, dimensions, this.options.model ?? body.model, encoding));
  }
}

/** The texts of an embeddings `input` (token arrays read as their numbers), or null if invalid. */
function embeddingTexts(input: unknown): string[] | null {
  const one = (item: unknown): string | null => {
    if (typeof item === 'string') return item.length > 0 ? item : null;
    if (Array.isArray(item) && item.length > 0 && item.every((t) => typeof t === 'number'))
      return item.join(' ');
    return null;
  };
  if (typeof input === 'string') return one(input) === null ? null : [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((t) => typeof t === 'number')) return [input.join(' ')];
  const texts = input.map(one);
  return texts.every((t): t is string => t !== null) ? texts : null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * keel.yaml's `models:` section for this server: gpt-4o-mini as the `fast` tier (and gpt-4o as
 * `strong` when asked) at OpenAI's list prices, so runs are costed as they would be for real.
 */
export function pricedModels(
  server: Pick<ModelServer, 'baseUrl'>,
  options: { strong?: boolean } = {},
): string {
  return [
    'models:',
    `  endpoint: { baseUrl: ${server.baseUrl} }`,
    '  tiers:',
    '    fast: { model: gpt-4o-mini, inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }',
    ...(options.strong ? ['    strong: { model: gpt-4o, inputUsdPerMTok: 2.5, outputUsdPerMTok: 10 }'] : []),
    '',
  ].join('\n');
}
