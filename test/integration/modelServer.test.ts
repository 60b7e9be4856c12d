/**
 * The test model server against the real `openai` SDK over real HTTP: what the conductor will rely
 * on when it streams text and tool calls, meets rate limits, errors, dropped and hanging
 * connections, and embeds text.
 */
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelServer } from '../helpers/modelServer';
import { embed } from '../helpers/openaiWire';
import { waitFor } from '../helpers/processes';

let server: ModelServer;

beforeEach(async () => {
  server = await ModelServer.start();
});
afterEach(async () => {
  await server.close();
});

function client(options: { maxRetries?: number; timeout?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: server.baseUrl, apiKey: 'sk-test', maxRetries: 0, ...options });
}

const MESSAGES = [{ role: 'user' as const, content: 'What is the weather in Rotterdam?' }];
const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

/** Catches the error of `promise`; fails if it resolves. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error as Error,
  );
  if (!outcome) throw new Error('expected a failure, got an answer');
  return outcome;
}

describe('answers', () => {
  it('streams text in several chunks that assemble to the reply, then the usage', async () => {
    const text = 'Rain all day, 12 degrees, wind from the west.';
    server.enqueue({ content: text, usage: { prompt_tokens: 11, completion_tokens: 13 } });
    const stream = await client().chat.completions.create({
      model: 'gpt-test',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const pieces = chunks.map((c) => c.choices[0]?.delta.content ?? '').filter(Boolean);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(text);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 11, completion_tokens: 13, total_tokens: 24 },
    });
    expect(server.requests[0]!.body).toMatchObject({ model: 'gpt-test', stream: true, messages: MESSAGES });
  });

  it('answers a plain request with a whole completion, tool calls parsed and usage estimated', async () => {
    server.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Rotterdam' } }] });
    const completion = await client().chat.completions.create({
      model: 'gpt-test',
      messages: MESSAGES,
      tools: TOOLS,
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('');
    const call = choice.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Rotterdam' });
    // 33 characters of messages and 20 of arguments, four to a token.
    expect(completion.usage).toEqual({ prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 });
  });

  it('assembles streamed tool calls with the SDK stream helper and from raw chunks', async () => {
    const calls = [
      { name: 'get_weather', arguments: { city: 'Rotterdam', days: [1, 2, 3] } },
      { name: 'get_weather', arguments: '{"city":"Antwerp"}' },
    ];
    server.enqueue({ content: 'Checking both.', toolCalls: calls }, { toolCalls: calls });

    const helper = client().chat.completions.stream({ model: 'gpt-test', messages: MESSAGES, tools: TOOLS });
    const final = await helper.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Checking both.');
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(
      message.tool_calls!.map(
        (c) => c.type === 'function' && [c.function.name, JSON.parse(c.function.arguments)],
      ),
    ).toEqual([
      ['get_weather', { city: 'Rotterdam', days: [1, 2, 3] }],
      ['get_weather', { city: 'Antwerp' }],
    ]);

    const raw = await client().chat.completions.create({
      model: 'gpt-test',
      messages: MESSAGES,
      stream: true,
    });
    const assembled: { id: string; name: string; arguments: string }[] = [];
    let argumentChunks = 0;
    for await (const chunk of raw) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (delta.id) assembled[delta.index] = { id: delta.id, name: delta.function!.name!, arguments: '' };
        if (delta.function?.arguments) argumentChunks += 1;
        assembled[delta.index]!.arguments += delta.function?.arguments ?? '';
      }
    }
    expect(argumentChunks).toBeGreaterThan(4);
    expect(assembled.map((c) => JSON.parse(c.arguments) as unknown)).toEqual([
      { city: 'Rotterdam', days: [1, 2, 3] },
      { city: 'Antwerp' },
    ]);
    expect(new Set(assembled.map((c) => c.id)).size).toBe(2);
  });

  it('asks a handler once the queue is empty, with the request and its index', async () => {
    server.enqueue({ content: 'from the queue' });
    server.respondWith((request, index) => ({
      content: `#${index}: ${(request.body as { messages: { content: string }[] }).messages[0]!.content}`,
    }));
    const ask = async (content: string): Promise<string | null> =>
      (await client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] }))
        .choices[0]!.message.content;
    expect(await ask('a')).toBe('from the queue');
    expect(await ask('b')).toBe('#1: b');
    expect(await ask('c')).toBe('#2: c');
  });
});

describe('errors', () => {
  it('surfaces a 429 with its Retry-After header when the SDK does not retry', async () => {
    server.enqueue({ fault: { kind: 'status', status: 429, retryAfterSeconds: 7, message: 'Slow down.' } });
    const error = await failure(client().chat.completions.create({ model: 'm', messages: MESSAGES }));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(429);
    expect(apiError.headers?.get('retry-after')).toBe('7');
    expect(apiError.code).toBe('rate_limit_exceeded');
    expect(apiError.message).toContain('Slow down.');
  });

  it('surfaces a 500 as InternalServerError, and an exhausted script the same way, loudly', async () => {
    server.enqueue({ fault: { kind: 'status', status: 500 } });
    expect(
      await failure(client().chat.completions.create({ model: 'm', messages: MESSAGES })),
    ).toBeInstanceOf(OpenAI.InternalServerError);
    const exhausted = await failure(client().chat.completions.create({ model: 'm', messages: MESSAGES }));
    expect(exhausted).toBeInstanceOf(OpenAI.InternalServerError);
    expect(exhausted.message).toContain('script is exhausted');
  });

  it('refuses requests without a model or messages, and a wrong key when it has one', async () => {
    const missing = await failure(client().chat.completions.create({ model: 'm', messages: [] }));
    expect(missing).toBeInstanceOf(OpenAI.BadRequestError);
    expect(missing.message).toContain("'messages'");

    const guarded = await ModelServer.start({ apiKey: 'sk-right' });
    try {
      const wrong = new OpenAI({ baseURL: guarded.baseUrl, apiKey: 'sk-wrong', maxRetries: 0 });
      const denied = await failure(wrong.chat.completions.create({ model: 'm', messages: MESSAGES }));
      expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
      guarded.enqueue({ content: 'ok' });
      const right = new OpenAI({ baseURL: guarded.baseUrl, apiKey: 'sk-right', maxRetries: 0 });
      const answer = await right.chat.completions.create({ model: 'm', messages: MESSAGES });
      expect(answer.choices[0]!.message.content).toBe('ok');
      expect(guarded.requests.map((r) => r.headers.authorization)).toEqual([
        'Bearer sk-wrong',
        'Bearer sk-right',
      ]);
    } finally {
      await guarded.close();
    }
  });

  it('a dropped connection is an APIConnectionError, or an error while iterating a stream', async () => {
    server.enqueue({ content: 'never seen', fault: { kind: 'drop' } });
    const dropped = await failure(client().chat.completions.create({ model: 'm', messages: MESSAGES }));
    expect(dropped).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(dropped).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);

    server.enqueue({ content: 'cut off after the first chunk', fault: { kind: 'drop' } });
    const stream = await client().chat.completions.create({ model: 'm', messages: MESSAGES, stream: true });
    const received: ChatCompletionChunk[] = [];
    const iterate = async (): Promise<void> => {
      for await (const chunk of stream) received.push(chunk);
    };
    const broken = await failure(iterate());
    expect(received).toHaveLength(1);
    // Not an OpenAI error class: the SDK passes on undici's own "terminated" TypeError here.
    expect(broken).toBeInstanceOf(TypeError);
    expect(broken.message).toBe('terminated');
  });

  it('a model that never answers ends in APIConnectionTimeoutError after the SDK timeout', async () => {
    server.enqueue({ fault: { kind: 'hang' } });
    const started = performance.now();
    const error = await failure(
      client({ timeout: 300 }).chat.completions.create({ model: 'm', messages: MESSAGES }),
    );
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('a stall after the headers outlives the SDK timeout; only the caller’s AbortSignal ends it', async () => {
    const WATCHDOG_MS = 500;
    const sdk = client({ timeout: 100 });
    server.enqueue({ content: 'half of it', fault: { kind: 'stall' } });
    let started = performance.now();
    const plain = await failure(
      sdk.chat.completions.create(
        { model: 'm', messages: MESSAGES },
        { signal: AbortSignal.timeout(WATCHDOG_MS) },
      ),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(WATCHDOG_MS - 10);
    // Aborted while reading the body, the SDK passes on fetch's DOMException, not APIUserAbortError.
    expect(plain.name).toBe('AbortError');
    expect(plain).not.toBeInstanceOf(OpenAI.OpenAIError);

    server.enqueue({ content: 'a long answer that stalls', fault: { kind: 'stall' } });
    started = performance.now();
    const signal = AbortSignal.timeout(WATCHDOG_MS);
    const stream = await sdk.chat.completions.create(
      { model: 'm', messages: MESSAGES, stream: true },
      { signal },
    );
    const received: ChatCompletionChunk[] = [];
    for await (const chunk of stream) received.push(chunk);
    // An aborted stream ends like a finished one: no error, no finish_reason. Check the signal.
    expect(performance.now() - started).toBeGreaterThanOrEqual(WATCHDOG_MS - 10);
    expect(received).toHaveLength(1);
    expect(received[0]!.choices[0]!.finish_reason).toBeNull();
    expect(signal.aborted).toBe(true);
  });

  it('close() ends a hanging request instead of leaving it open', async () => {
    server.enqueue({ fault: { kind: 'hang' } });
    const pending = failure(
      client({ timeout: 60_000 }).chat.completions.create({ model: 'm', messages: MESSAGES }),
    );
    await waitFor('the request to arrive', () => server.requests.length === 1);
    await server.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
    server = await ModelServer.start(); // afterEach closes this one.
  });
});

describe('retries', () => {
  it("the SDK's own retry waits for retry-after-ms before asking again", async () => {
    server.enqueue({ fault: { kind: 'status', status: 429, retryAfterMs: 200 } }, { content: 'second time' });
    const answer = await client({ maxRetries: 1 }).chat.completions.create({
      model: 'm',
      messages: MESSAGES,
    });
    expect(answer.choices[0]!.message.content).toBe('second time');
    const [first, second] = server.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(190);
    expect(second!.headers['x-stainless-retry-count']).toBe('1');
  });

  it('a slow model answers after its delay', async () => {
    server.enqueue({ content: 'eventually', delayMs: 150 });
    const started = performance.now();
    const answer = await client().chat.completions.create({ model: 'm', messages: MESSAGES });
    expect(answer.choices[0]!.message.content).toBe('eventually');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('embeddings', () => {
  it('round-trips vectors through the SDK default (base64) and float encodings', async () => {
    const input = ['Acme renewal due in March', 'Podcast about bookkeeping'];
    const viaDefault = await client().embeddings.create({ model: 'embed-test', input, dimensions: 32 });
    expect(server.embeddingRequests[0]!.body).toMatchObject({ encoding_format: 'base64', dimensions: 32 });
    expect(viaDefault.data.map((d) => d.embedding)).toEqual(input.map((t) => Array.from(embed(t, 32))));
    expect(viaDefault.usage.prompt_tokens).toBeGreaterThan(0);

    const viaFloat = await client().embeddings.create({
      model: 'embed-test',
      input: input[0]!,
      dimensions: 32,
      encoding_format: 'float',
    });
    expect(viaFloat.data[0]!.embedding).toEqual(viaDefault.data[0]!.embedding);
    expect(viaFloat.data[0]!.embedding).toHaveLength(32);

    const norm = Math.hypot(
      ...(await client().embeddings.create({ model: 'e', input: 'x' })).data[0]!.embedding,
    );
    expect(norm).toBeCloseTo(1, 5);
    expect(server.embeddingRequests).toHaveLength(3);
    expect(server.requests).toHaveLength(0);
  });
});
