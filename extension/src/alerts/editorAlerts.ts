/**
 * What the operator must hear about in the editor even when nothing there started it: a run that
 * escalated (a trigger or another window started it), a circuit breaker that opened, a quota used
 * up. The same events `alerts:` in keel.yaml mails (daemon/src/alerts/); here they become
 * notifications. Told once each: a breaker once per outage (until it closes), a quota once until
 * it is no longer exceeded, and nothing that was already so when the editor connected (the
 * sidebar and the dashboard show standing state; a notification is news).
 */
import { FINISHED_RUN_STATUSES, type ControlState, type RunSummary } from '@keel/schemas';

export interface EditorAlert {
  /** Names what it is about, so a second identical notice is never shown. */
  key: string;
  message: string;
  /** What the notification's button opens. */
  action: { label: 'Show Trace'; runId: string } | { label: 'Show Dashboard' };
}

/**
 * A run's words in a notification as plain text: VS Code turns `[label](target)` in a message into
 * a link (a `command:` one included), and an escalation may quote a mail or a calendar event.
 */
export function notificationText(text: string): string {
  return text.replace(/\]\s*\(/g, '] (');
}

export class EditorAlerts {
  private readonly told = new Set<string>();
  /** Breakers and quotas standing now: told when they start, forgotten when they end. */
  private standing: Set<string> | null = null;

  /** A run changed, pushed by the daemon: an escalation not started from this window is told. */
  runChanged(run: RunSummary, startedHere: boolean): EditorAlert | null {
    if (startedHere || !run.escalation || !FINISHED_RUN_STATUSES.includes(run.status)) return null;
    return this.once({
      key: `escalation:${run.id}`,
      message: `Keel: ${run.runbook} escalated to you: ${notificationText(run.escalation)}`,
      action: { label: 'Show Trace', runId: run.id },
    });
  }

  /**
   * Governance changed: breakers that opened and quotas used up since the last state. The first
   * state after connecting is taken as it stands, without notices.
   */
  controlChanged(control: ControlState): EditorAlert[] {
    const now = new Map<string, EditorAlert>();
    for (const breaker of control.breakers) {
      if (breaker.state === 'closed') continue;
      if (breaker.name.startsWith('connector:')) {
        const name = breaker.name.slice('connector:'.length);
        now.set(`breaker:${breaker.name}`, {
          key: `breaker:${breaker.name}`,
          message:
            `Keel: the connector ${name} failed its drift probe; its actions are refused until a probe ` +
            `passes ("keel connectors check ${name}").`,
          action: { label: 'Show Dashboard' },
        });
        continue;
      }
      const what = breaker.name.startsWith('runbook:')
        ? `runbook ${breaker.name.slice('runbook:'.length)}`
        : `model endpoint ${breaker.name.slice('endpoint:'.length)}`;
      now.set(`breaker:${breaker.name}`, {
        key: `breaker:${breaker.name}`,
        message:
          `Keel: the circuit breaker of ${what} opened after ${breaker.failures} failure(s) in a row; ` +
          'new calls are refused until a trial succeeds.',
        action: { label: 'Show Dashboard' },
      });
    }
    for (const quota of control.quotas) {
      if (quota.state !== 'exceeded') continue;
      const key = `quota:${quota.agent}:${quota.period}`;
      const period = quota.period === 'day' ? 'daily' : 'monthly';
      now.set(key, {
        key,
        message: `Keel: the ${period} quota of ${quota.agent} is used up; new runs of it are refused until the ${quota.period} ends.`,
        action: { label: 'Show Dashboard' },
      });
    }
    const before = this.standing;
    this.standing = new Set(now.keys());
    if (before === null) return [];
    // An outage that ended may start again later: it is news then.
    for (const key of before) if (!now.has(key)) this.told.delete(key);
    return [...now.values()].filter((alert) => !before.has(alert.key) && this.tell(alert.key));
  }

  /** The connection to the daemon was lost: the next state is taken as it stands. */
  disconnected(): void {
    this.standing = null;
  }

  private once(alert: EditorAlert): EditorAlert | null {
    return this.tell(alert.key) ? alert : null;
  }

  private tell(key: string): boolean {
    if (this.told.has(key)) return false;
    this.told.add(key);
    return true;
  }
}
