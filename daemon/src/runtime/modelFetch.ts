/**
 * The `fetch` the openai SDK calls model and embedding endpoints with: undici's `request` under a
 * WHATWG Response, instead of Node's global fetch. Both are undici; the global fetch runs the whole
 * Fetch standard around each request (a Request object, its body teed for a retry, streams for
 * the body both ways, its own abort signals), which took 0.75-0.8 ms of CPU a streamed call on this
 * 2-core machine against 0.44-0.46 ms this way (issue 14: a durable step is mostly one model call).
 *
 * What differs from the global fetch, on purpose: a redirect is not followed (the SDK reports its
 * status, and the operator's key never goes to an origin the operator did not trust), and no
 * compressed answer is asked for. undici loads with the first call, from dist/http.js when built
 * (httpBundle.ts), from node_modules when run from the sources.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type * as UndiciModule from 'undici';
import { runBundleBeside } from '../boot/codeCache';

/** The bundle of undici, next to the daemon's bundles (esbuild.mjs). */
const BUNDLE = 'http.js';
/** Statuses whose Response must have no body (the Fetch standard's null body statuses). */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

let loaded: { undici: typeof UndiciModule; agent: UndiciModule.Agent } | null = null;

/**
 * undici, and a connection pool of Keel's own: the global one is whichever undici set it first
 * (Node's own fetch does, with an older undici) or whoever called setGlobalDispatcher. Its
 * timeouts are undici's defaults, as the global fetch's were.
 */
function undici(): { undici: typeof UndiciModule; agent: UndiciModule.Agent } {
  if (!loaded) {
    const { undici: module } = runBundleBeside(BUNDLE, () => ({
      undici: createRequire(__filename)('undici') as typeof UndiciModule,
    }));
    loaded = { undici: module, agent: new module.Agent() };
  }
  return loaded;
}

export async function modelFetch(url: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('modelFetch takes a URL');
  const { undici: client, agent } = undici();
  const answer = await client.request(url, {
    method: init.method ?? 'GET',
    headers: Object.fromEntries(new Headers(init.headers)),
    body: init.body as string | Buffer | null | undefined,
    signal: init.signal ?? undefined,
    dispatcher: agent,
  });
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
        headers.append(name, one);
      }
    }
    if (NO_BODY.has(answer.statusCode) || init.method === 'HEAD') {
      await answer.body.dump();
      return new Response(null, { status: answer.statusCode, headers });
    }
    return new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, {
      status: answer.statusCode,
      headers,
    });
  } catch (error) {
    // A status or a header a Response cannot hold: the connection is let go, not left waiting.
    answer.body.destroy(error as Error);
    throw error;
  }
}
