/**
 * A run's budget: money, tokens, steps and wall time. Model calls are checked before they are
 * made, against the most they could cost, so no call can take a run past its budget.
 */
import type { Budget as BudgetLimits, ModelTier } from '@keel/schemas';

export class BudgetExceededError extends Error {}

export class RunBudget {
  spentUsd = 0;
  tokens = 0;
  steps = 0;
  private pausedMs = 0;
  private pausedAt: number | null = null;

  constructor(
    readonly limits: BudgetLimits,
    /** Milliseconds the run has already been active (before a restart), counted against maxWallSeconds. */
    private readonly activeBeforeMs: number,
    private readonly resumedAt = performance.now(),
  ) {}

  /** Counts a step (or an agent iteration) about to run; throws when there is no room for it. */
  takeStep(what: string): void {
    if (this.steps + 1 > this.limits.maxSteps) {
      throw new BudgetExceededError(
        `${what} would be step ${this.steps + 1} of at most ${this.limits.maxSteps} (budget.maxSteps)`,
      );
    }
    this.steps++;
  }

  /** Throws, without spending, when a call with this prompt and output cap could pass the budget. */
  checkCall(tier: ModelTier, inputTokens: number, maxOutputTokens: number): void {
    if (this.remainingMs() <= 0) {
      throw new BudgetExceededError(
        `the run has used its ${this.limits.maxWallSeconds} s of wall time (budget.maxWallSeconds)`,
      );
    }
    const worstUsd = cost(tier, inputTokens, maxOutputTokens);
    if (this.spentUsd + worstUsd > this.limits.maxUsd) {
      throw new BudgetExceededError(
        `the next model call could cost up to $${worstUsd.toFixed(4)}; with $${this.spentUsd.toFixed(4)} spent ` +
          `that passes budget.maxUsd ($${this.limits.maxUsd})`,
      );
    }
    if (this.tokens + inputTokens + maxOutputTokens > this.limits.maxTokens) {
      throw new BudgetExceededError(
        `the next model call could use up to ${inputTokens + maxOutputTokens} tokens; with ${this.tokens} used ` +
          `that passes budget.maxTokens (${this.limits.maxTokens})`,
      );
    }
  }

  spend(usd: number, tokens: number): void {
    this.spentUsd += usd;
    this.tokens += tokens;
  }

  /** Milliseconds of wall time left, counting time active before a restart, not time paused. */
  remainingMs(): number {
    const pausedNow = this.pausedAt === null ? 0 : performance.now() - this.pausedAt;
    return (
      this.limits.maxWallSeconds * 1000 -
      this.activeBeforeMs -
      (performance.now() - this.resumedAt - this.pausedMs - pausedNow)
    );
  }

  /** Stops the wall clock: waiting for the operator is not the run's time. */
  pause(): void {
    this.pausedAt ??= performance.now();
  }

  resumeClock(): void {
    if (this.pausedAt === null) return;
    this.pausedMs += performance.now() - this.pausedAt;
    this.pausedAt = null;
  }
}

/** US dollars for a call's tokens at a tier's prices. */
export function cost(tier: ModelTier, inputTokens: number, outputTokens: number): number {
  return (inputTokens * tier.inputUsdPerMTok + outputTokens * tier.outputUsdPerMTok) / 1_000_000;
}
