/**
 * Coalesces bursts of change notifications into one refresh: it runs `delayMs` after the last
 * trigger, and at the latest `maxWaitMs` after the first, so that a steady stream (a run reporting
 * every step) still shows up.
 */
export class Debouncer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstAt: number | null = null;

  constructor(
    private readonly action: () => void,
    private readonly delayMs = 300,
    private readonly maxWaitMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  trigger(): void {
    const now = this.now();
    this.firstAt ??= now;
    const wait = Math.max(0, Math.min(this.delayMs, this.firstAt + this.maxWaitMs - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Runs the pending action now, if any. */
  flush(): void {
    if (this.firstAt === null) return;
    this.cancel();
    this.action();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.firstAt = null;
  }
}
