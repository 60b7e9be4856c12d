/**
 * A run's budget: money, tokens, steps and wall time. Model calls are checked before they are
 * made, against the most they could cost, and hold that much until they end, so no call (nor two
 * calls of parallel steps) can take a run past its budget.
 */
import type { Budget as BudgetLimits, ModelTier } from '@keel/schemas';

export class BudgetExceededError extends Error {}

export class RunBudget {
  spentUsd = 0;
  tokens = 0;
  steps = 0;
  /** The most the model calls in flight could still cost. */
  private heldUsd = 0;
  private heldTokens = 0;
  private pausedMs = 0;
  private pausedAt: number | null = null;
  /** Steps executing now, and how many of them wait for the operator. */
  private running = 1;
  private waiting = 0;

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

  /**
   * Holds the most a call with this prompt and output cap could cost until the returned release
   * is called (after the call's actual cost was spent); throws when that could pass the budget.
   */
  reserveCall(tier: ModelTier, inputTokens: number, maxOutputTokens: number): () => void {
    this.checkCall(tier, inputTokens, maxOutputTokens);
    const usd = cost(tier, inputTokens, maxOutputTokens);
    const tokens = inputTokens + maxOutputTokens;
    this.heldUsd += usd;
    this.heldTokens += tokens;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.heldUsd -= usd;
      this.heldTokens -= tokens;
    };
  }

  /**
   * Sets money and tokens aside for a child run: as much as its own budget allows, at most what
   * this run has left (what other calls and children hold excepted). The child runs within that
   * share; the returned release gives it back once the child's actual spend was spent here.
   */
  shareWithChild(
    child: { maxUsd: number; maxTokens: number },
    what: string,
  ): { maxUsd: number; maxTokens: number; release: () => void } {
    const leftUsd = this.limits.maxUsd - this.spentUsd - this.heldUsd;
    const leftTokens = this.limits.maxTokens - this.tokens - this.heldTokens;
    if (leftUsd <= 0 || leftTokens <= 0) {
      const held =
        this.heldUsd > 0 || this.heldTokens > 0
          ? `; $${this.heldUsd.toFixed(4)} and ${this.heldTokens} tokens are set aside for calls and child runs under way`
          : '';
      throw new BudgetExceededError(
        `${what} has no budget left to hand off: $${this.spentUsd.toFixed(4)} spent and ${this.tokens} tokens used${held} ` +
          `(budget.maxUsd $${this.limits.maxUsd}, budget.maxTokens ${this.limits.maxTokens}; a hand-off sets its child's whole budget aside)`,
      );
    }
    const maxUsd = Math.min(child.maxUsd, leftUsd);
    const maxTokens = Math.floor(Math.min(child.maxTokens, leftTokens));
    this.heldUsd += maxUsd;
    this.heldTokens += maxTokens;
    let released = false;
    return {
      maxUsd,
      maxTokens,
      release: () => {
        if (released) return;
        released = true;
        this.heldUsd -= maxUsd;
        this.heldTokens -= maxTokens;
      },
    };
  }

  /** Throws, without spending, when a call with this prompt and output cap could pass the budget. */
  checkCall(tier: ModelTier, inputTokens: number, maxOutputTokens: number): void {
    if (this.remainingMs() <= 0) {
      throw new BudgetExceededError(
        `the run has used its ${this.limits.maxWallSeconds} s of wall time (budget.maxWallSeconds)`,
      );
    }
    const worstUsd = cost(tier, inputTokens, maxOutputTokens);
    const inFlight = this.heldUsd > 0 ? ` and up to $${this.heldUsd.toFixed(4)} held by calls in flight` : '';
    if (this.spentUsd + this.heldUsd + worstUsd > this.limits.maxUsd) {
      throw new BudgetExceededError(
        `the next model call could cost up to $${worstUsd.toFixed(4)}; with $${this.spentUsd.toFixed(4)} spent${inFlight} ` +
          `that passes budget.maxUsd ($${this.limits.maxUsd})`,
      );
    }
    if (this.tokens + this.heldTokens + inputTokens + maxOutputTokens > this.limits.maxTokens) {
      const held = this.heldTokens > 0 ? ` and ${this.heldTokens} held by calls in flight` : '';
      throw new BudgetExceededError(
        `the next model call could use up to ${inputTokens + maxOutputTokens} tokens; with ${this.tokens} used${held} ` +
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

  /**
   * A step starts waiting for the operator. Waiting is not the run's time: the wall clock stops
   * once every step executing waits (one step working in parallel keeps it going).
   */
  pause(): void {
    this.waiting++;
    this.settleClock();
  }

  resumeClock(): void {
    this.waiting = Math.max(0, this.waiting - 1);
    this.settleClock();
  }

  /** How many steps execute now (parallel branches); the wall clock runs while one of them works. */
  setRunning(steps: number): void {
    this.running = Math.max(1, steps);
    this.settleClock();
  }

  private settleClock(): void {
    const stopped = this.waiting > 0 && this.waiting >= this.running;
    if (stopped) {
      this.pausedAt ??= performance.now();
    } else if (this.pausedAt !== null) {
      this.pausedMs += performance.now() - this.pausedAt;
      this.pausedAt = null;
    }
  }
}

/** US dollars for a call's tokens at a tier's prices. */
export function cost(tier: ModelTier, inputTokens: number, outputTokens: number): number {
  return (inputTokens * tier.inputUsdPerMTok + outputTokens * tier.outputUsdPerMTok) / 1_000_000;
}
