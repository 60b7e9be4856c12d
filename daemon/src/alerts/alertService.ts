/**
 * Alerts outside the editor (keel.yaml `alerts:`): an escalation, an opened circuit breaker, a
 * used-up quota, a failed triggered run or an approval waiting too long goes to one connector
 * action (an email to the operator), next to the editor's notifications. Each alert has an
 * identity (`alert:<kind>:<id>`) that is its exactly-once key: it is queued once, and a restart
 * re-drives what was queued with the same key, which the connector honours (email.send finds its
 * Message-ID in Sent). At most one alert per kind and `minIntervalMinutes`; more are folded into
 * a digest sent when the interval ends, so nothing is lost. Nothing is sent unless the operator
 * trusts the workspace with its `alerts:` section (trust/policyWants.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AlertKind, AlertsConfig, ControlState, EvalDrift, Proposal, RunSummary } from '@keel/schemas';
import type { Logger } from '../log';
import type { WorkspaceConnectors } from '../connectors/workspaceConnectors';
import { actionOf } from '../connectors/sdk';
import { describeIssues } from '../connectors/registry';
import { periodStart } from '../governance/quotas';
import { AlertState, type QueuedAlert } from './alertState';
import {
  alertOfBreaker,
  alertOfDrift,
  alertOfQuota,
  alertOfRun,
  alertOfWaiting,
  digestLines,
  KIND_LABELS,
  type Alert,
} from './alertText';

export interface AlertServiceOptions {
  workspace: string;
  log: Logger;
  /** Whether the operator trusts the workspace as it is now (its `alerts:` included). */
  trusted: () => boolean;
  /** The workspace's connectors as runs use them (credentials redacted, endpoints consented). */
  connectors: () => WorkspaceConnectors;
  /** Proposals waiting for the operator now. */
  pendingApprovals: () => Proposal[];
  /** Takes every known secret out of a text. */
  scrub: (text: string) => string;
  now?: () => number;
}

/** After a failed delivery, the next attempt. */
const RETRY_MS = 30_000;
/** The longest the approval timer sleeps between looks. */
const MAX_WAITING_CHECK_MS = 60_000;

export class AlertService {
  private config: AlertsConfig | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly flushTimers = new Map<AlertKind, NodeJS.Timeout>();
  private retryTimer: NodeJS.Timeout | null = null;
  private waitingTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private warnedUntrusted = false;
  private readonly abort = new AbortController();
  private readonly now: () => number;

  private constructor(
    private readonly options: AlertServiceOptions,
    private readonly state: AlertState,
  ) {
    this.now = options.now ?? Date.now;
  }

  static async open(options: AlertServiceOptions, config: AlertsConfig | undefined): Promise<AlertService> {
    const state = await AlertState.load(options.workspace, (m) => options.log.warn(m));
    const service = new AlertService(options, state);
    service.configure(config);
    return service;
  }

  /** keel.yaml changed: new destination, kinds and limits; what is queued or folded is kept. */
  configure(config: AlertsConfig | undefined): void {
    this.config = config;
    if (this.waitingTimer) clearInterval(this.waitingTimer);
    this.waitingTimer = null;
    if (!config || this.stopped) return;
    for (const kind of Object.keys(this.state.data.folded) as AlertKind[]) this.scheduleFlush(kind);
    if (config.on.includes('approvalWaiting')) {
      const waitMs = config.approvalWaitingHours * 3_600_000;
      this.waitingTimer = setInterval(
        () => this.checkWaiting(),
        Math.min(Math.max(waitMs / 4, 250), MAX_WAITING_CHECK_MS),
      );
      this.waitingTimer.unref();
      this.checkWaiting();
    }
    this.drain();
  }

  /** A run changed: a finished run that escalated, or a triggered one that failed, alerts. */
  runChanged(run: RunSummary): void {
    void this.serially(async () => {
      const alert = alertOfRun(run, this.state.triggered(run.id), this.options.scrub);
      if (alert) await this.raise(alert);
    });
  }

  /** An eval drifted from its baseline (`keel eval`, or its schedule). */
  evalDrift(drift: EvalDrift): void {
    void this.serially(() => this.raise(alertOfDrift(drift, this.options.scrub)));
  }

  /** A trigger started this run: its failure is told as a triggered run's. */
  triggeredRun(runId: string): void {
    void this.serially(async () => {
      this.state.addTriggeredRun(runId);
      await this.state.save();
    });
  }

  /**
   * Governance changed: a quota used up alerts once per period; a breaker that opened alerts once
   * per outage (until a success closes it), not at each failed trial nor again after a restart.
   */
  controlChanged(control: ControlState): void {
    void this.serially(async () => {
      let changed = false;
      for (const breaker of control.breakers) {
        if (breaker.state === 'closed' && breaker.succeededAt) {
          changed = this.state.breakerClosed(breaker.name) || changed;
          continue;
        }
        const alert = alertOfBreaker(breaker);
        if (!alert || !this.config?.on.includes(alert.kind)) continue;
        if (!this.state.breakerOpened(breaker.name)) continue;
        changed = true;
        await this.raise(alert);
      }
      const start = (period: 'day' | 'month'): string =>
        periodStart(period, new Date(this.now())).toISOString();
      for (const quota of control.quotas) {
        const alert = alertOfQuota(quota, start(quota.period));
        if (alert) await this.raise(alert);
      }
      if (changed) await this.state.save();
    });
  }

  /** Looks for proposals waiting longer than `approvalWaitingHours`: one alert per approval. */
  checkWaiting(): void {
    void this.serially(async () => {
      const config = this.config;
      if (!config?.on.includes('approvalWaiting')) return;
      const before = this.now() - config.approvalWaitingHours * 3_600_000;
      for (const proposal of this.options.pendingApprovals()) {
        if (proposal.status !== 'pending' || Date.parse(proposal.createdAt) > before) continue;
        await this.raise(alertOfWaiting(proposal, config.approvalWaitingHours, this.options.scrub));
      }
    });
  }

  /** Trust was granted or revoked: what waited for it goes now (or keeps waiting). */
  trustChanged(): void {
    this.warnedUntrusted = false;
    this.drain();
  }

  /** Resolves once everything asked of the service so far is done (tests, shutdown). */
  settled(): Promise<void> {
    return this.serially(() => Promise.resolve());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.flushTimers.values()) clearTimeout(timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.waitingTimer) clearInterval(this.waitingTimer);
    this.abort.abort();
    await this.chain;
  }

  private serially(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain
      .then(() => (this.stopped ? undefined : task()))
      .catch((error: unknown) => this.options.log.error('alerts failed', { error }));
    return this.chain;
  }

  /** Queues the alert, or folds it into the next digest when its kind alerted too recently. */
  private async raise(alert: Alert): Promise<void> {
    const config = this.config;
    if (!config?.on.includes(alert.kind) || this.state.known(alert.identity)) return;
    const data = this.state.data;
    const last = data.lastSent[alert.kind];
    if (last && this.now() - Date.parse(last) < intervalMs(config)) {
      data.folded[alert.kind] = [...(data.folded[alert.kind] ?? []), alert];
      await this.state.save();
      this.scheduleFlush(alert.kind);
      return;
    }
    const folded = data.folded[alert.kind] ?? [];
    const text =
      folded.length > 0
        ? `${alert.text}\n\nAlso since the last alert of this kind (held back by alerts.minIntervalMinutes):\n${digestLines(folded).join('\n')}`
        : alert.text;
    this.queue({ key: alert.identity, kind: alert.kind, subject: alert.subject, text }, folded);
    await this.state.save();
    this.drain();
  }

  /** The interval of a kind ended: what was folded goes as one digest. */
  private flush(kind: AlertKind): void {
    this.flushTimers.delete(kind);
    void this.serially(async () => {
      const config = this.config;
      const folded = this.state.data.folded[kind] ?? [];
      if (!config || folded.length === 0) return;
      const last = this.state.data.lastSent[kind];
      if (last && this.now() - Date.parse(last) < intervalMs(config)) return this.scheduleFlush(kind);
      const hash = createHash('sha256')
        .update(folded.map((a) => a.identity).join('\n'))
        .digest('hex')
        .slice(0, 16);
      const text = [
        `${folded.length} more ${KIND_LABELS[kind]} since the last alert, held back by alerts.minIntervalMinutes (${config.minIntervalMinutes}):`,
        ...digestLines(folded),
        '',
        'Open the Keel sidebar in VS Code, or run "keel runs", "keel approvals" and "keel status" in the workspace.',
      ].join('\n');
      this.queue(
        {
          key: `alert:${kind}:digest:${hash}`,
          kind,
          subject: `Keel: ${folded.length} more ${KIND_LABELS[kind]}`,
          text,
        },
        folded,
      );
      await this.state.save();
      this.drain();
    });
  }

  private queue(entry: QueuedAlert, folded: readonly Alert[]): void {
    const data = this.state.data;
    data.outbox.push(entry);
    data.lastSent[entry.kind] = new Date(this.now()).toISOString();
    // Folded alerts travel in this entry's text: they count as sent with it, never raised again.
    this.state.markSent(
      folded.map((a) => a.identity),
      new Date(this.now()),
    );
    delete data.folded[entry.kind];
  }

  private scheduleFlush(kind: AlertKind): void {
    const config = this.config;
    if (!config || this.stopped || this.flushTimers.has(kind)) return;
    const last = Date.parse(this.state.data.lastSent[kind] ?? '') || 0;
    const wait = Math.max(last + intervalMs(config) - this.now(), 0);
    const timer = setTimeout(() => this.flush(kind), wait);
    timer.unref();
    this.flushTimers.set(kind, timer);
  }

  /** Sends what is queued, oldest first; stops at the first failure and tries again later. */
  private drain(): void {
    void this.serially(async () => {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const config = this.config;
      while (config && this.state.data.outbox.length > 0 && !this.stopped) {
        if (!this.options.trusted()) {
          if (!this.warnedUntrusted) {
            this.options.log.warn(
              `${this.state.data.outbox.length} alert(s) wait: Keel sends alerts only once you trust this ` +
                'workspace with its keel.yaml alerts: section (run "keel trust" or answer the editor prompt).',
            );
          }
          this.warnedUntrusted = true;
          return;
        }
        const entry = this.state.data.outbox[0]!;
        try {
          await this.send(config, entry);
        } catch (error) {
          this.options.log.warn('an alert could not be sent; Keel tries again', {
            alert: entry.key,
            error: this.options.scrub(error instanceof Error ? error.message : String(error)),
          });
          this.retryTimer = setTimeout(() => this.drain(), RETRY_MS);
          this.retryTimer.unref();
          return;
        }
        this.state.data.outbox.shift();
        this.state.markSent([entry.key], new Date(this.now()));
        await this.state.save();
        this.options.log.info('alert sent', { alert: entry.key });
      }
    });
  }

  private async send(config: AlertsConfig, entry: QueuedAlert): Promise<void> {
    const { connector, action: name } = config.to;
    const connectors = this.options.connectors();
    const instance = connectors.find(connector);
    if (!instance) {
      throw new Error(
        `keel.yaml alerts.to.connector names "${connector}", which is not a connector of this workspace ` +
          `(it has: ${connectors.names().join(', ')}); fix alerts.to in keel.yaml`,
      );
    }
    const signal = this.abort.signal;
    await connectors.prepare(instance, signal);
    const action = actionOf(instance.connector, name);
    if (!action) throw new Error(`keel.yaml alerts.to.action: ${connector} has no action "${name}"`);
    const parsed = action.input.safeParse(alertInput(action.input, config.to.with, entry));
    if (!parsed.success) {
      throw new Error(
        `keel.yaml alerts.to.with does not make a valid ${connector}.${name}: ${describeIssues(parsed.error)}`,
      );
    }
    // Configuring alerts.to is the operator's rule for this action; only an explicit deny stops it.
    const decision = connectors.decide(instance, name, parsed.data);
    if (decision.decide === 'deny') throw new Error(`${connector}.${name} is refused by ${decision.rule}`);
    const context = connectors.context(instance, entry.key, signal);
    const done: unknown = action.find ? await action.find(parsed.data, context) : null;
    if (!done) await action.perform(parsed.data, context);
  }
}

function intervalMs(config: AlertsConfig): number {
  return config.minIntervalMinutes * 60_000;
}

/**
 * The action's input: the operator's fixed arguments, the subject and the text. An action whose
 * input has no `subject` (a chat message) gets it as the text's first line.
 */
function alertInput(schema: z.ZodType, fixed: Record<string, unknown>, entry: QueuedAlert): unknown {
  const hasSubject = !(schema instanceof z.ZodObject) || 'subject' in schema.shape;
  return hasSubject
    ? { ...fixed, subject: entry.subject, text: entry.text }
    : { ...fixed, text: `${entry.subject}\n\n${entry.text}` };
}
