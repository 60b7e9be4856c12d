/**
 * How a webview catches up with the state it shows. Its script posts `ready` once it listens, and
 * the host answers with everything the view shows. In code-server, with two webviews loading
 * together, that exchange was sometimes lost and a view stayed on "Loading…" for good. So the host
 * also sends the catch-up when the view (re)loads and again every few seconds until the page is
 * heard from (`ready`, or `loaded`: it received a catch-up), a bounded number of times; the webview
 * scripts render the same state twice as they do once. A page never heard from after all of that
 * did not load at all (views/silentWebview.ts): the owner is told, to load it again.
 */
import type { Disposable } from 'vscode';

export interface RetryPolicy {
  /** Time between two unanswered catch-ups, and from the last one until the page counts as silent. */
  intervalMs: number;
  /** Catch-ups sent before `ready` at most, the first included. */
  attempts: number;
}

/**
 * Five catch-ups a second and a half apart: a page that loads within six seconds gets its state
 * without `ready`; one that has said nothing after seven and a half is taken as not loaded (a page
 * loads in one to three seconds here, also on a busy machine).
 */
export const WEBVIEW_RETRY: RetryPolicy = { intervalMs: 1_500, attempts: 5 };

export class ReadyHandshake implements Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sent = 0;

  constructor(
    /** Posts everything the view shows; safe to call again at any time. */
    private readonly catchUp: () => void,
    private readonly policy: RetryPolicy = WEBVIEW_RETRY,
    /** The page said nothing through every catch-up: it never loaded. */
    private readonly onSilent: () => void = () => undefined,
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

  /** The script received a catch-up (its `ready` is late or lost): it has the state already. */
  loaded(): void {
    this.stop();
  }

  dispose(): void {
    this.stop();
  }

  private attempt(): void {
    this.sent++;
    this.catchUp();
    const next = this.sent < this.policy.attempts ? () => this.attempt() : () => this.silent();
    this.timer = setTimeout(next, this.policy.intervalMs);
  }

  private silent(): void {
    this.timer = undefined;
    this.onSilent();
  }

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
