/**
 * One http@1 request: to an allow-listed URL only (target.ts), no redirect followed (a redirect
 * elsewhere could carry the token along), bounded in time and in answer size, the token sent as a
 * bearer header and kept out of every error. JSON answers are parsed; others come back as text.
 */
import { ActionInputError, OutcomeUnknownError } from '../sdk';
import { optionalCredential, originOf, type Context, type HttpSettings } from './config';

export interface HttpAnswer {
  status: number;
  contentType: string | null;
  /** The parsed JSON, the text of any other answer, or null when empty. */
  body: unknown;
  json: boolean;
  /** The `Server` header, when the API names its software (the probe reports it as the version). */
  server: string | null;
}

/** A failure of the request or of its answer, with a message meant for the operator. */
export class HttpError extends Error {
  override name = 'HttpError';
}

const READS = new Set(['GET', 'HEAD']);

export async function send(
  ctx: Context,
  config: HttpSettings,
  request: { method: string; url: URL; body?: unknown; idempotencyKey?: string },
): Promise<HttpAnswer> {
  const { method, url } = request;
  const token = optionalCredential(ctx, 'token');
  const headers: Record<string, string> = { accept: 'application/json', ...config.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (request.idempotencyKey) headers['idempotency-key'] = request.idempotencyKey;
  let body: string | undefined;
  if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    headers['content-type'] = 'application/json';
  }
  const where = `${method} ${url.origin}${url.pathname}`;
  const timeout = AbortSignal.timeout(config.timeoutSeconds * 1000);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.any([ctx.signal, timeout]),
      ...(body !== undefined ? { body } : {}),
    });
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const cause = timeout.aborted
      ? `no answer within ${config.timeoutSeconds} s (timeoutSeconds in keel.yaml)`
      : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message);
    // A write that got no answer may have happened: the host leaves it to the operator.
    if (!READS.has(method))
      throw new OutcomeUnknownError(`http@1 ${where}: ${cause}; it may or may not have happened`);
    throw new HttpError(`http@1 ${where}: ${cause}`);
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    const location = response.headers.get('location') ?? '';
    let target = '(an unreadable Location)';
    try {
      target = originOf(new URL(location, url));
    } catch {
      // kept as unreadable
    }
    throw new HttpError(
      `http@1 ${where} answered a redirect (${response.status}) to ${target}; Keel does not follow redirects ` +
        '(the token would go along): request the final URL, adding its host to keel.yaml if you trust it.',
    );
  }
  const text = await readCapped(response, config.maxResponseBytes, where);
  const contentType = response.headers.get('content-type');
  if (!response.ok) {
    const snippet = redact(text.slice(0, 300), token);
    const message =
      `http@1 ${where} failed: HTTP ${response.status} ${response.statusText} ${snippet}`.trim();
    // A refusal of this input (4xx but a timeout or rate limit) cannot succeed when sent again.
    if (response.status >= 400 && response.status < 500 && ![408, 425, 429].includes(response.status)) {
      throw new ActionInputError(message);
    }
    throw new HttpError(message);
  }
  const server = response.headers.get('server');
  return { status: response.status, contentType, server, ...parseBody(text, contentType, where, token) };
}

function parseBody(
  text: string,
  contentType: string | null,
  where: string,
  token: string | null,
): { body: unknown; json: boolean } {
  if (text.trim() === '') return { body: null, json: false };
  if (!/[/+]json\b/i.test(contentType ?? '')) return { body: redact(text, token), json: false };
  try {
    return { body: JSON.parse(text) as unknown, json: true };
  } catch (error) {
    throw new HttpError(
      `http@1 ${where} answered ${contentType} that is not JSON (${(error as Error).message}): ${redact(text.slice(0, 120), token)}`,
    );
  }
}

/** The answer's text, refused past `limit` bytes without reading the rest. */
async function readCapped(response: Response, limit: number, where: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw new HttpError(tooLarge(where, limit));
  }
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new HttpError(tooLarge(where, limit));
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(where: string, limit: number): string {
  return `http@1 ${where} answered more than ${limit} bytes (maxResponseBytes in keel.yaml); the answer was not read`;
}

function redact(text: string, token: string | null): string {
  return token ? text.split(token).join('[redacted]') : text;
}
