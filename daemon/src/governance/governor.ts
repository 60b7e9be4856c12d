/**
 * What may run: the emergency stop, spend quotas and circuit breakers, consulted by the conductor
 * before a run starts and by the model gateway before each call. It tells clients when any of
 * them changes.
 */
import type { BreakerState, ControlState, QuotaState, RunSummary, WorkspaceConfig } from '@keel/schemas';
import { Breakers, type CircuitBreaker } from './circuitBreaker';
import { EmergencyStop } from './emergencyStop';
import { quotaHit, quotaRefusal, quotaStates } from './quotas';

/** A run refused by governance, with the reason and what lifts it. */
export class GovernanceRefusal extends Error {
  constructor(
    message: string,
    /** The used-up quota, when a quota refused the run (budget advice counts those). */
    readonly quota: QuotaState | null = null,
  ) {
    super(message);
  }
}

export interface GovernorOptions {
  keelDir: string;
  config: () => WorkspaceConfig;
  /** Every run the conductor knows, for quotas. */
  runs: () => RunSummary[];
  roleOf: (runbook: string) => string | null;
  onChanged: (state: ControlState) => void;
  /** Breakers kept elsewhere (each connector's, opened by a failed drift probe), shown with these. */
  extraBreakers?: () => BreakerState[];
}

export class Governor {
  readonly breakers: Breakers;

  private constructor(
    private readonly options: GovernorOptions,
    private readonly emergency: EmergencyStop,
  ) {
    this.breakers = new Breakers(() => options.config().breakers);
  }

  static async open(options: GovernorOptions): Promise<Governor> {
    return new Governor(options, await EmergencyStop.open(options.keelDir));
  }

  get stopped(): boolean {
    return this.emergency.state !== null;
  }

  /** Throws GovernanceRefusal when a new run of this runbook may not start now. */
  admit(runbook: string, role: string | null): void {
    const stop = this.emergency.state;
    if (stop) {
      throw new GovernanceRefusal(
        `Keel is in emergency stop since ${stop.stoppedAt}${stop.reason ? ` (${stop.reason})` : ''}: ` +
          'no run starts until "keel resume" (or Resume in the sidebar)',
      );
    }
    const states = this.quotas();
    const quota = quotaRefusal(states, runbook, role);
    if (quota)
      throw new GovernanceRefusal(`${runbook} was not started: ${quota}`, quotaHit(states, runbook, role));
    const breaker = this.breakers.runbook(runbook);
    if (!breaker.allow()) {
      throw new GovernanceRefusal(
        `${runbook} failed ${this.options.config().breakers.runFailures} times in a row; new runs are refused ` +
          `until ${breaker.retryAt()?.toISOString() ?? 'the cool-down ends'} (circuit breaker), then one trial run may start`,
      );
    }
  }

  endpointBreaker(baseUrl: string): CircuitBreaker {
    return this.breakers.endpoint(baseUrl);
  }

  /** A run ended: its runbook's breaker learns the outcome; quotas may have moved. */
  runFinished(summary: RunSummary): void {
    const breaker = this.breakers.runbook(summary.runbook);
    if (summary.status === 'succeeded') breaker.success();
    else if (summary.status === 'failed') breaker.failure();
    this.publish();
  }

  async stop(reason: string | null): Promise<void> {
    await this.emergency.stop(reason);
    this.publish();
  }

  async resume(): Promise<void> {
    await this.emergency.resume();
    this.publish();
  }

  state(): ControlState {
    const stop = this.emergency.state;
    return {
      stopped: stop !== null,
      stoppedAt: stop?.stoppedAt ?? null,
      reason: stop?.reason ?? null,
      breakers: [...this.breakers.snapshot(), ...(this.options.extraBreakers?.() ?? [])],
      quotas: this.quotas(),
    };
  }

  /** Tells clients the current state. */
  publish(): void {
    this.options.onChanged(this.state());
  }

  private quotas(): ControlState['quotas'] {
    return quotaStates(this.options.config().quotas, this.options.runs(), this.options.roleOf);
  }
}
