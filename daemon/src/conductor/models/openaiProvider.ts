/**
 * Any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, LM Studio) through the `openai` SDK,
 * streamed so a dropped connection is noticed at once. The SDK's own retries are off: the
 * conductor retries itself, so each attempt is journaled, costed and checked against the budget.
 */
import type OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { followAbort } from '../../runtime/followAbort';
import { modelFetch } from '../../runtime/modelFetch';
import { OPENAI_HEADERS } from '../../runtime/openaiHeaders';
import { openaiSdk } from '../../runtime/openaiSdk';
import type { ModelResponse, ToolCall } from '../journalRecords';
import { ModelCallError, type ModelProvider, type ModelRequest } from './modelProvider';

export class OpenAiProvider implements ModelProvider {
  readonly kind = 'openai';
  private readonly client: OpenAI;

  constructor(options: { baseUrl: string; apiKey: string }) {
    const OpenAiClient = openaiSdk();
    this.client = new OpenAiClient({
      baseURL: options.baseUrl,
      apiKey: options.apiKey,
      maxRetries: 0,
      defaultHeaders: OPENAI_HEADERS,
      fetch: modelFetch,
    });
  }

  async complete(
    request: ModelRequest,
    _key: unknown,
    options: { signal: AbortSignal; timeoutMs: number },
  ): Promise<ModelResponse> {
    // The SDK's own timeout covers only the wait for headers: a stream that stalls after them would
    // hang for ever. This watchdog covers the whole answer; it and the caller's cancel are let go
    // when the call ends.
    const stop = new AbortController();
    const { signal } = stop;
    let timedOut = false;
    const watchdog = setTimeout(() => {
      timedOut = true;
      stop.abort(new Error('the model took too long'));
    }, options.timeoutMs).unref();
    const unfollow = followAbort(options.signal, stop);
    try {
      const stream = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages,
          ...(request.tools?.length ? { tools: request.tools } : {}),
          ...(request.jsonSchema
            ? {
                response_format: {
                  type: 'json_schema',
                  json_schema: { ...request.jsonSchema, strict: false },
                },
              }
            : {}),
          max_tokens: request.maxOutputTokens,
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal, timeout: options.timeoutMs },
      );
      const response = await collect(stream, request);
      // An aborted stream ends its loop quietly, without a finish reason: never take it as an answer.
      if (signal.aborted) throw new Error('aborted');
      return response;
    } catch (error) {
      if (timedOut && !options.signal.aborted) {
        throw new ModelCallError(
          `the model did not finish answering within ${options.timeoutMs} ms`,
          'timeout',
          true,
        );
      }
      throw classify(error, options.signal);
    } finally {
      clearTimeout(watchdog);
      unfollow();
    }
  }
}

async function collect(
  stream: AsyncIterable<ChatCompletionChunk>,
  request: ModelRequest,
): Promise<ModelResponse> {
  let content = '';
  let sawContent = false;
  let finishReason: string | null = null;
  let model = request.model;
  let usage: ModelResponse['usage'] | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    model = chunk.model || model;
    if (chunk.usage) {
      usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
    }
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta.content) {
      content += choice.delta.content;
      sawContent = true;
    }
    for (const delta of choice.delta.tool_calls ?? []) {
      const call = (calls[delta.index] ??= { id: '', name: '', arguments: '' });
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.arguments += delta.function.arguments;
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  if (finishReason === null) {
    throw new ModelCallError('the model stream ended before the answer was complete', 'connection', true);
  }
  const toolCalls: ToolCall[] = calls.filter(Boolean).map((c, i) => ({ ...c, id: c.id || `call_${i}` }));
  return {
    content: sawContent ? content : null,
    toolCalls,
    finishReason,
    model,
    // Some servers send no usage for streams: estimate (4 characters a token) rather than count 0.
    usage: usage ?? {
      inputTokens: estimateTokens(JSON.stringify(request.messages)),
      outputTokens: estimateTokens(content + toolCalls.map((c) => c.arguments).join('')),
    },
  };
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function classify(error: unknown, signal: AbortSignal): ModelCallError {
  // First: a cancelled stream ends quietly, and is then taken for one cut short.
  if (signal.aborted) return new ModelCallError('the call was cancelled', 'cancelled', false);
  if (error instanceof ModelCallError) return error;
  const sdk = openaiSdk();
  if (error instanceof sdk.APIConnectionTimeoutError) {
    return new ModelCallError('the model did not answer in time', 'timeout', true);
  }
  if (error instanceof sdk.APIUserAbortError)
    return new ModelCallError('the call was cancelled', 'cancelled', false);
  if (error instanceof sdk.APIConnectionError) {
    return new ModelCallError(`cannot reach the model endpoint: ${error.message}`, 'connection', true);
  }
  if (error instanceof sdk.APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
    const hint =
      status === 401 || status === 403
        ? ' (check the API key)'
        : status === 404
          ? ' (check the model name and baseUrl)'
          : status >= 300 && status < 400
            ? ` (it redirects${redirectTarget(error.headers as Headers | undefined)}; Keel follows no redirect: ` +
              'put the address it points to in models.endpoint.baseUrl in keel.yaml if you trust it)'
            : '';
    return new ModelCallError(
      `the model endpoint answered ${status}: ${error.message}${hint}`,
      `http_${status}`,
      retryable,
      retryAfterMs(error.headers as Headers | undefined),
    );
  }
  // An error thrown while reading the stream (the connection dropped mid-answer).
  const message = error instanceof Error ? error.message : String(error);
  return new ModelCallError(`the model connection failed: ${message}`, 'connection', true);
}

/** Where a redirect points (its origin only: a path could carry anything), as " to <origin>". */
function redirectTarget(headers: Headers | undefined): string {
  const location = headers?.get('location');
  if (!location) return '';
  try {
    return ` to ${new URL(location).origin}`;
  } catch {
    return '';
  }
}

/** Retry-After in seconds or as an HTTP date, or OpenAI's retry-after-ms. */
function retryAfterMs(headers: Headers | undefined): number | null {
  const ms = Number(headers?.get('retry-after-ms'));
  if (headers?.get('retry-after-ms') && Number.isFinite(ms)) return Math.max(0, ms);
  const value = headers?.get('retry-after');
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}
