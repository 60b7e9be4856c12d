/**
 * What the conductor needs of a model: one chat completion, with tools and an optional JSON
 * schema for the answer. Providers: the OpenAI-compatible endpoint, and cassettes (recorded
 * answers, for tests, replay and the offline demo).
 */
import type {
  ChatCompletionMessageParam,
  ChatCompletionFunctionTool,
} from 'openai/resources/chat/completions';
import type { ModelCallSettings } from '@keel/schemas';
import type { ModelResponse } from '../journalRecords';

export type ChatMessage = ChatCompletionMessageParam;
export type ToolDefinition = ChatCompletionFunctionTool;

export interface ModelRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  /** Ask for JSON matching this schema (response_format json_schema). */
  jsonSchema?: { name: string; schema: Record<string, unknown> };
  maxOutputTokens: number;
  temperature?: number;
}

/**
 * Which call of which step this is, and what it asks: how a cassette finds its recorded answer and
 * tells whether the request changed since (see `requestSettings.ts`).
 */
export interface CallKey {
  stepId: string;
  call: number;
  requestHash: string;
  promptHash: string;
  settings: ModelCallSettings;
}

export interface ModelProvider {
  /** `openai` or `cassette`, for traces. */
  readonly kind: string;
  complete(
    request: ModelRequest,
    key: CallKey,
    options: { signal: AbortSignal; timeoutMs: number },
  ): Promise<ModelResponse>;
}

/**
 * A failed call, classified: `outcome` names it for traces and metrics (`http_429`, `timeout`,
 * `connection`...), `retryable` says whether trying again may help.
 */
export class ModelCallError extends Error {
  constructor(
    message: string,
    readonly outcome: string,
    readonly retryable: boolean,
    /** What the server asked us to wait (Retry-After), in milliseconds. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}
