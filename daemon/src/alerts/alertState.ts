/**
 * What the alert service has sent, queued and folded, in `.keel/alerts.json` (sealed like every
 * record under `.keel/` that can cause an action): a restart neither sends an alert again nor
 * loses one that was queued or folded into a digest. A file Keel did not seal is quarantined.
 */
import { join } from 'node:path';
import type { AlertKind } from '@keel/schemas';
import { readSealedState, writeSealedState } from '../runtime/sealedState';
import { StateSeal } from '../runtime/stateKey';
import type { Alert } from './alertText';

/** An alert on its way to the connector; `key` is its exactly-once key (the alert's identity). */
export interface QueuedAlert {
  key: string;
  kind: AlertKind;
  subject: string;
  text: string;
}

interface StateFile {
  version: 1;
  /** Identity → when it was sent (or folded into a digest that was). */
  sent: Record<string, string>;
  /** Kind → when its last alert was queued: the rate limit counts from there. */
  lastSent: Partial<Record<AlertKind, string>>;
  /** Kind → alerts held back by the rate limit, for the next digest. */
  folded: Partial<Record<AlertKind, Alert[]>>;
  outbox: QueuedAlert[];
  /** Runs a trigger started, so their failure is told as one. */
  triggeredRuns: string[];
  /**
   * Breakers (by name) whose opening was alerted and that were not seen closed by a success
   * since: the outage they are in alerted once, however often the breaker opens again (a failed
   * trial after its cool-down) and across restarts, which forget breakers but not the outage.
   */
  openBreakers: string[];
}

/** Sent identities are forgotten after this long (the events they name are long over). */
const KEEP_SENT_MS = 90 * 24 * 3_600_000;
const KEEP_TRIGGERED_RUNS = 500;

export class AlertState {
  private constructor(
    private readonly path: string,
    private readonly sealer: StateSeal,
    readonly data: StateFile,
  ) {}

  static async load(workspace: string, warn: (message: string) => void): Promise<AlertState> {
    const path = join(workspace, '.keel', 'alerts.json');
    const sealer = new StateSeal(workspace);
    const opened = await readSealedState(
      workspace,
      path,
      'alerts',
      sealer,
      { holds: 'alert records', without: 'alerts start afresh' },
      warn,
    );
    const parsed = (opened ?? {}) as Partial<StateFile>;
    return new AlertState(path, sealer, {
      version: 1,
      sent: parsed.sent ?? {},
      lastSent: parsed.lastSent ?? {},
      folded: parsed.folded ?? {},
      outbox: parsed.outbox ?? [],
      triggeredRuns: parsed.triggeredRuns ?? [],
      openBreakers: parsed.openBreakers ?? [],
    });
  }

  /** Whether this identity was sent, is queued or is folded: it is not raised again. */
  known(identity: string): boolean {
    const { sent, outbox, folded } = this.data;
    return (
      Object.hasOwn(sent, identity) ||
      outbox.some((a) => a.key === identity) ||
      Object.values(folded).some((alerts) => alerts?.some((a) => a.identity === identity))
    );
  }

  triggered(runId: string): boolean {
    return this.data.triggeredRuns.includes(runId);
  }

  /**
   * Whether the breaker's opening is news: false while the outage it is in was alerted already.
   * Marks it alerted; `breakerClosed` ends the outage.
   */
  breakerOpened(name: string): boolean {
    if (this.data.openBreakers.includes(name)) return false;
    this.data.openBreakers = [...this.data.openBreakers, name];
    return true;
  }

  /** A success closed the breaker: its next opening is a new outage. Whether anything changed. */
  breakerClosed(name: string): boolean {
    if (!this.data.openBreakers.includes(name)) return false;
    this.data.openBreakers = this.data.openBreakers.filter((open) => open !== name);
    return true;
  }

  addTriggeredRun(runId: string): void {
    this.data.triggeredRuns = [...this.data.triggeredRuns, runId].slice(-KEEP_TRIGGERED_RUNS);
  }

  markSent(identities: readonly string[], at: Date): void {
    for (const identity of identities) this.data.sent[identity] = at.toISOString();
    const oldest = at.getTime() - KEEP_SENT_MS;
    for (const [identity, when] of Object.entries(this.data.sent)) {
      if (Date.parse(when) < oldest) delete this.data.sent[identity];
    }
  }

  save(): Promise<void> {
    return writeSealedState(this.path, 'alerts', this.sealer, this.data);
  }
}
