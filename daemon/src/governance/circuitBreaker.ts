/**
 * A circuit breaker: after `threshold` failures in a row it opens and refuses, for `coolDownMs`;
 * then it half-opens and lets one trial through: a success closes it, a failure opens it again.
 */
import type { BreakerState } from '@keel/schemas';

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trialInFlight = false;
  private succeededAt: number | null = null;

  constructor(
    readonly name: string,
    private readonly threshold: number,
    private readonly coolDownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState['state'] {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.coolDownMs ? 'half_open' : 'open';
  }

  /** Whether a call may go through now; in half-open, only one trial at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.succeededAt = this.now();
    this.failures = 0;
    this.openedAt = null;
    this.trialInFlight = false;
  }

  failure(): void {
    this.failures++;
    const trialFailed = this.trialInFlight;
    this.trialInFlight = false;
    if (trialFailed || this.failures >= this.threshold) this.openedAt = this.now();
  }

  /** When an open breaker lets a trial through. */
  retryAt(): Date | null {
    return this.openedAt === null ? null : new Date(this.openedAt + this.coolDownMs);
  }

  snapshot(): BreakerState {
    const retryAt = this.state === 'open' ? this.retryAt() : null;
    return {
      name: this.name,
      state: this.state,
      failures: this.failures,
      retryAt: retryAt?.toISOString() ?? null,
      succeededAt: this.succeededAt === null ? null : new Date(this.succeededAt).toISOString(),
    };
  }
}

/** Breakers by name, made on first use with the workspace's settings. */
export class Breakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(
    private settings: () => { modelFailures: number; runFailures: number; coolDownSeconds: number },
    private readonly now: () => number = Date.now,
  ) {}

  endpoint(baseUrl: string): CircuitBreaker {
    return this.get(`endpoint:${baseUrl}`, this.settings().modelFailures);
  }

  runbook(name: string): CircuitBreaker {
    return this.get(`runbook:${name}`, this.settings().runFailures);
  }

  snapshot(): BreakerState[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }

  private get(name: string, threshold: number): CircuitBreaker {
    let breaker = this.breakers.get(name);
    if (!breaker) {
      breaker = new CircuitBreaker(name, threshold, this.settings().coolDownSeconds * 1000, this.now);
      this.breakers.set(name, breaker);
    }
    return breaker;
  }
}
