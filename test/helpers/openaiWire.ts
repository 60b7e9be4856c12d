/**
 * OpenAI's wire format as the test model server writes it: chat completions, their streamed chunks,
 * error bodies and deterministic embeddings. Shapes follow the API reference and what openai-node v6
 * parses (core/streaming.ts, lib/ChatCompletionStream.ts, resources/embeddings.ts).
 */

export interface ScriptedToolCall {
  name: string;
  /** An object is sent JSON.stringify'd; a string is sent as is (so a test can send broken JSON). */
  arguments: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** What one answer says, with every default already applied. */
export interface Answer {
  id: string;
  created: number;
  model: string;
  content: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string;
  usage: Usage;
}

/** Characters per token for the default usage: OpenAI's own rule of thumb for English. */
const CHARS_PER_TOKEN = 4;
/** Pieces small enough that any real sentence or argument list spans several chunks. */
const CONTENT_PIECE = 4;
const ARGUMENTS_PIECE = 8;

export function argumentsText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Default usage: a quarter token per character of the request's messages and of the answer. */
export function defaultUsage(messages: unknown, answer: Omit<Answer, 'usage'>): Usage {
  const answered = answer.content.length + answer.toolCalls.reduce((n, c) => n + c.arguments.length, 0);
  return {
    prompt_tokens: Math.ceil(messageChars(messages) / CHARS_PER_TOKEN),
    completion_tokens: Math.ceil(answered / CHARS_PER_TOKEN),
  };
}

function messageChars(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let chars = 0;
  for (const message of messages as { content?: unknown; tool_calls?: unknown }[]) {
    const content = message?.content;
    if (typeof content === 'string') chars += content.length;
    else if (Array.isArray(content)) {
      for (const part of content as { text?: unknown }[]) {
        if (typeof part?.text === 'string') chars += part.text.length;
      }
    }
    if (Array.isArray(message?.tool_calls)) {
      for (const call of message.tool_calls as { function?: { name?: string; arguments?: string } }[]) {
        chars += (call.function?.name?.length ?? 0) + (call.function?.arguments?.length ?? 0);
      }
    }
  }
  return chars;
}

function usageBody(usage: Usage): Usage & { total_tokens: number } {
  return { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
}

/** The `chat.completion` object of a non-streamed answer. */
export function completionBody(answer: Answer): object {
  return {
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.content,
          refusal: null,
          ...(answer.toolCalls.length > 0
            ? {
                tool_calls: answer.toolCalls.map((call) => ({
                  id: call.id,
                  type: 'function',
                  function: { name: call.name, arguments: call.arguments },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: usageBody(answer.usage),
  };
}

/**
 * The `chat.completion.chunk` objects of a streamed answer, in order: the role, the content in
 * pieces, each tool call (id, type and name first, then its arguments in pieces), the finish
 * reason, and with `include_usage` a last chunk with no choices and the usage. As OpenAI does, every
 * chunk carries `usage: null` when usage was asked for.
 */
export function completionChunks(answer: Answer, includeUsage: boolean): object[] {
  const chunk = (delta: object, finishReason: string | null = null): object => ({
    id: answer.id,
    object: 'chat.completion.chunk',
    created: answer.created,
    model: answer.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of pieces(answer.content, CONTENT_PIECE)) chunks.push(chunk({ content: piece }));
  answer.toolCalls.forEach((call, index) => {
    chunks.push(
      chunk({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
      }),
    );
    for (const piece of pieces(call.arguments, ARGUMENTS_PIECE)) {
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  chunks.push(chunk({}, answer.finishReason));
  if (includeUsage) {
    chunks.push({
      id: answer.id,
      object: 'chat.completion.chunk',
      created: answer.created,
      model: answer.model,
      system_fingerprint: null,
      choices: [],
      usage: usageBody(answer.usage),
    });
  }
  return chunks;
}

/** Splits by code points, so no piece ends inside a surrogate pair. */
function pieces(text: string, size: number): string[] {
  const points = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''));
  return out;
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`, typed by status as OpenAI does. */
export function errorBody(status: number, message: string, code: string | null = null): object {
  let type = 'invalid_request_error';
  if (status === 429) type = 'requests';
  else if (status >= 500) type = 'server_error';
  return {
    error: { message, type, param: null, code: code ?? (status === 429 ? 'rate_limit_exceeded' : null) },
  };
}

/**
 * A deterministic vector for `text`: each lowercase word hashed (FNV-1a) to a slot and a sign, then
 * L2-normalised. Texts sharing words are close, which is enough for retrieval tests.
 */
export function embed(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = fnv1a(word);
    vector[hash % dimensions]! += hash & 0x80000000 ? -1 : 1;
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  if (norm === 0)
    vector[0] = 1; // No words: still a unit vector, never NaNs.
  else for (let i = 0; i < dimensions; i++) vector[i]! /= Math.sqrt(norm);
  return vector;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The embeddings response; `base64` is little-endian float32, which the SDK asks for by default. */
export function embeddingsBody(
  texts: string[],
  dimensions: number,
  model: string,
  encoding: 'float' | 'base64',
): object {
  const data = texts.map((text, index) => {
    const vector = embed(text, dimensions);
    let embedding: number[] | string = Array.from(vector);
    if (encoding === 'base64') {
      const bytes = Buffer.alloc(vector.length * 4);
      vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
      embedding = bytes.toString('base64');
    }
    return { object: 'embedding', index, embedding };
  });
  const tokens = Math.ceil(texts.reduce((n, t) => n + t.length, 0) / CHARS_PER_TOKEN);
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}
