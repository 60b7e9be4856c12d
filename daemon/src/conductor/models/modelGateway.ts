/**
 * The one path every model call of a run takes: tier to model and prices, the answer an earlier
 * attempt of the run already paid for (after a crash, through the run history's `once`), the budget check before the call, retries
 * with backoff, and a journal record for every attempt.
 */
import { createHash } from 'node:crypto';
import type { ModelTier, RetryPolicy, WorkspaceConfig } from '@keel/schemas';
import type { CircuitBreaker } from '../../governance/circuitBreaker';
import { cost, type RunBudget } from '../budget';
import type { ModelResponse, RecordOf } from '../journalRecords';
import { modelKey, ReplayDivergenceError, type Performed, type RunHistory } from '../runHistory';
import { estimateTokens } from './openaiProvider';
import { ModelCallError, type CallKey, type ModelProvider, type ModelRequest } from './modelProvider';
import { callChanges, changedCallMessage, promptHash, requestSettings } from './requestSettings';

export type ModelsConfig = WorkspaceConfig['models'];

export interface GatewayOptions {
  models: ModelsConfig;
  provider: ModelProvider;
  budget: RunBudget;
  /** The run's history: answers calls the run already paid for, and journals every attempt. */
  history: RunHistory;
  signal: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /** The endpoint's circuit breaker: refuses calls while open (none for cassettes). */
  breaker?: CircuitBreaker | null;
}

/** One attempt of a step: its number (1, then more when `retry:` tries it again) and its signal. */
export interface StepAttempt {
  number: number;
  signal: AbortSignal;
}

/** What a step uses of the gateway. */
export interface ModelCalls {
  call(
    stepId: string,
    call: number,
    tierName: string,
    request: Omit<ModelRequest, 'model'>,
  ): Promise<ModelResponse>;
}

export class ModelGateway implements ModelCalls {
  /** Calls actually sent to the provider (replays and journal hits excluded). */
  sent = 0;

  constructor(private readonly options: GatewayOptions) {}

  async call(
    stepId: string,
    call: number,
    tierName: string,
    request: Omit<ModelRequest, 'model'>,
    attempt: StepAttempt = { number: 1, signal: this.options.signal },
  ): Promise<ModelResponse> {
    const { options } = this;
    const tier = this.tier(tierName);
    // A tier keel.yaml does not name has no real model id (see `tier`): none is compared.
    const model = Object.hasOwn(options.models.tiers, tierName) ? tier.model : undefined;
    const asked: CallKey = {
      stepId,
      call,
      requestHash: hashRequest(request),
      promptHash: promptHash(request.messages),
      settings: requestSettings(tierName, model, request),
    };
    const requestHash = asked.requestHash;
    const key = modelKey(stepId, call, attempt.number);
    if (options.history.mode === 'replay') this.checkRecordedSettings(key, asked);
    // A replay of a call that failed for good (its step was then tried again) fails the same way.
    const failed = options.history.mode === 'replay' ? options.history.failedCall(key) : undefined;
    if (failed && failed.requestHash === requestHash && !options.history.recorded(key)) {
      throw new ModelCallError(`the recorded call failed (${failed.outcome})`, failed.outcome, false);
    }
    return options.history.once(
      {
        key,
        stepId,
        fingerprint: requestHash,
        what: `makes a model call (call ${call + 1})`,
      },
      () => this.send(asked, tierName, tier, request, attempt),
    );
  }

  /**
   * A replay whose call asks what the journal recorded but with other settings (a tier's model in
   * keel.yaml, the step's temperature) diverges, naming them; a changed prompt alone is left to
   * `once`, which names the step.
   */
  private checkRecordedSettings(key: string, asked: CallKey): void {
    const known = this.options.history.recorded(key);
    if (!known || known.fingerprint === null) return;
    const changes = callChanges(
      { requestHash: known.fingerprint, promptHash: known.promptHash, settings: known.settings },
      asked,
    );
    if (changes.length === 0 || (changes.length === 1 && changes[0] === 'the prompt changed')) return;
    throw new ReplayDivergenceError(
      asked.stepId,
      'request',
      changedCallMessage(asked.stepId, asked.call, changes, 'the run was recorded'),
      key,
    );
  }

  /** The gateway as one attempt of a step uses it: calls of its own, ended by its signal. */
  forAttempt(attempt: StepAttempt): ModelCalls {
    return { call: (stepId, call, tier, request) => this.call(stepId, call, tier, request, attempt) };
  }

  /** Sends the call, retrying what may pass; the answer's record is journaled by `once`. */
  private async send(
    asked: CallKey,
    tierName: string,
    tier: ModelTier,
    request: Omit<ModelRequest, 'model'>,
    stepAttempt: StepAttempt,
  ): Promise<Performed<ModelResponse>> {
    const { options } = this;
    const { stepId, call } = asked;
    const signal = stepAttempt.signal;
    const full: ModelRequest = { ...request, model: tier.model };
    const inputTokens = estimateTokens(JSON.stringify([request.messages, request.tools ?? []]));
    for (let attempt = 1; ; attempt++) {
      // Held until the call ends, so steps running in parallel cannot together pass the budget.
      const release = options.budget.reserveCall(tier, inputTokens, request.maxOutputTokens);
      const breaker = options.breaker ?? null;
      if (breaker && !breaker.allow()) {
        release();
        throw new ModelCallError(
          `the model endpoint failed ${breaker.snapshot().failures} times in a row; calls are paused until ` +
            `${breaker.retryAt()?.toISOString() ?? 'the cool-down ends'} (circuit breaker)`,
          'circuit_open',
          false,
        );
      }
      const started = performance.now();
      const base = {
        type: 'modelCall',
        stepId,
        call,
        attempt,
        ...(stepAttempt.number > 1 ? { stepAttempt: stepAttempt.number } : {}),
        tier: tierName,
        model: tier.model,
        requestHash: asked.requestHash,
        promptHash: asked.promptHash,
        settings: asked.settings,
      } as const;
      const logged = { request: { ...full } };
      try {
        // Whole milliseconds: the SDK refuses any other timeout (the wall budget left is fractional).
        const timeoutMs = Math.max(
          1,
          Math.floor(Math.min(options.models.timeoutSeconds * 1000, options.budget.remainingMs())),
        );
        this.sent++;
        const response = await options.provider.complete(full, asked, { signal, timeoutMs });
        breaker?.success();
        const usd = cost(tier, response.usage.inputTokens, response.usage.outputTokens);
        options.budget.spend(usd, response.usage.inputTokens + response.usage.outputTokens);
        release();
        const record: RecordOf<'modelCall'> = {
          ...base,
          ...logged,
          response,
          outcome: 'ok',
          latencyMs: Math.round(performance.now() - started),
          costUsd: usd,
          at: new Date().toISOString(),
        };
        return { result: response, record };
      } catch (caught) {
        release();
        const error =
          caught instanceof ModelCallError
            ? caught
            : new ModelCallError(caught instanceof Error ? caught.message : String(caught), 'error', false);
        await options.history.append({
          ...base,
          ...logged,
          response: null,
          outcome: error.outcome,
          latencyMs: Math.round(performance.now() - started),
          costUsd: 0,
          at: new Date().toISOString(),
        });
        // The endpoint's health: failures that say it is down or overloaded, not a bad request.
        if (error.retryable) breaker?.failure();
        else if (error.outcome !== 'cancelled') breaker?.success();
        const policy = options.models.retry;
        if (!error.retryable || attempt >= policy.maxAttempts || signal.aborted) throw error;
        const delay = error.retryAfterMs ?? backoffDelay(policy, attempt, options.random ?? Math.random);
        await (options.sleep ?? sleep)(Math.min(delay, 300_000), signal);
      }
    }
  }

  private tier(name: string): ModelTier {
    const tier = this.options.models.tiers[name];
    if (tier) return tier;
    // Recorded answers need no endpoint and cost nothing: a workspace without tiers can still test.
    if (this.options.provider.kind === 'cassette' || this.options.history.mode === 'replay') {
      return { model: name, inputUsdPerMTok: 0, outputUsdPerMTok: 0 };
    }
    const known = Object.keys(this.options.models.tiers);
    throw new ModelCallError(
      `model tier "${name}" is not in keel.yaml (models.tiers${known.length ? `: ${known.join(', ')}` : ' is empty'})`,
      'config',
      false,
    );
  }
}

/**
 * Exponential backoff with "equal jitter": half the doubled delay for certain, the other half at
 * random, so retries of many runs spread out but none comes back at once.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  return ceiling / 2 + random() * (ceiling / 2);
}

export function hashRequest(request: Omit<ModelRequest, 'model'>): string {
  const { messages, tools, jsonSchema } = request;
  return createHash('sha256')
    .update(JSON.stringify({ messages, tools: tools ?? [], jsonSchema: jsonSchema ?? null }))
    .digest('hex');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ModelCallError('the call was cancelled', 'cancelled', false));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new ModelCallError('the call was cancelled', 'cancelled', false));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
