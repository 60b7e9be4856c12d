/**
 * How a webview view catches up with the state it shows. Its script posts `ready` once it listens,
 * and the host answers with everything the view shows. In code-server, with two webview views
 * loading together, that exchange was sometimes lost and a view stayed on "Loading…" for good. So
 * the host also sends the catch-up when the view (re)loads and again every few seconds until `ready`
 * arrives, a bounded number of times; the webview scripts render the same state twice as they do
 * once.
 */
import type { Disposable } from 'vscode';

export interface RetryPolicy {
  /** Time between two unanswered catch-ups. */
  intervalMs: number;
  /** Catch-ups sent before `ready` at most, the first included. */
  attempts: number;
}

/** Six catch-ups two seconds apart: a page that loads within ten seconds gets its state without `ready`. */
export const WEBVIEW_RETRY: RetryPolicy = { intervalMs: 2_000, attempts: 6 };

export class ReadyHandshake implements Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sent = 0;

  constructor(
    /** Posts everything the view shows; safe to call again at any time. */
    private readonly catchUp: () => void,
    private readonly policy: RetryPolicy = WEBVIEW_RETRY,
  ) {}

  /** The webview (re)loaded its page: its script has not said `ready` yet. */
  start(): void {
    this.stop();
    this.sent = 0;
    this.attempt();
  }

  /** The script said `ready`: it listens, so this catch-up is the last one it needs. */
  ready(): void {
    this.stop();
    this.catchUp();
  }

  dispose(): void {
    this.stop();
  }

  private attempt(): void {
    this.sent++;
    this.catchUp();
    if (this.sent < this.policy.attempts) {
      this.timer = setTimeout(() => this.attempt(), this.policy.intervalMs);
    } else {
      this.timer = undefined;
    }
  }

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
