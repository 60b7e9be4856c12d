/** Accumulating timers, and a way to time an object's async method without changing its code. */
import { summarize, type Summary } from '../stats';

export class Timer {
  readonly samples: number[] = [];

  add(ms: number): void {
    this.samples.push(ms);
  }

  get totalMs(): number {
    return this.samples.reduce((a, b) => a + b, 0);
  }

  summary(): Summary {
    return summarize(this.samples);
  }

  async time<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(performance.now() - started);
    }
  }
}

/**
 * Replaces `target[key]`, an async method, by one that records each call's duration in `timer`:
 * the daemon's own classes are profiled as they are, by wrapping the instances it uses.
 */
export function timeMethod<T extends object>(target: T, key: keyof T & string, timer: Timer): void {
  const original: unknown = target[key];
  if (typeof original !== 'function') throw new Error(`${key} is not a method`);
  const method = original as (...args: unknown[]) => Promise<unknown>;
  const wrapped = (...args: unknown[]): Promise<unknown> => timer.time(() => method.apply(target, args));
  Object.defineProperty(target, key, { value: wrapped, configurable: true, writable: true });
}

/** `work` with a deadline: resolves to 'timeout' instead of hanging (a deadlocked native call). */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
