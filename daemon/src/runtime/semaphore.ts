/** At most `limit` tasks at once; the others wait in order of arrival. */
export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Tasks waiting for a turn (all turns are taken). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves once no task runs (at once when none does). */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `active` stays counted for it.
      const next = this.queue.shift();
      if (next) next();
      else if (--this.active === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }
}
