/**
 * When to restart a crashed daemon: after a backoff that doubles with each recent crash (1 s, 2 s,
 * 4 s, ...), and not at all once it has crashed too often in a short window. Pure logic, no VS Code.
 */
export const MAX_CRASHES = 5;
export const CRASH_WINDOW_MS = 3 * 60_000;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

export type RestartDecision =
  | { action: 'restart'; delayMs: number; crashes: number }
  | { action: 'giveUp'; crashes: number; message: string };

export class RestartPolicy {
  private crashTimes: number[] = [];

  /** Records a crash at `now` and says what to do about it. */
  onCrash(now: number): RestartDecision {
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const crashes = this.crashTimes.length;
    if (crashes > MAX_CRASHES) {
      return {
        action: 'giveUp',
        crashes,
        message:
          `The Keel daemon crashed ${crashes} times in ${CRASH_WINDOW_MS / 60_000} minutes and was not ` +
          'restarted again. See Keel: Show Logs, then Restart.',
      };
    }
    return {
      action: 'restart',
      crashes,
      delayMs: Math.min(FIRST_BACKOFF_MS * 2 ** (crashes - 1), MAX_BACKOFF_MS),
    };
  }

  /** The operator restarted by hand: past crashes no longer count. */
  reset(): void {
    this.crashTimes = [];
  }
}
