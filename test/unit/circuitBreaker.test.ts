/** The circuit breaker's life: closed, open after N failures, half-open after the cool-down, closed again. */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../daemon/src/governance/circuitBreaker';

describe('a circuit breaker', () => {
  it('opens after its threshold of failures in a row, refuses, half-opens for one trial, and closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker('endpoint:x', 3, 60_000, () => now);
    breaker.failure();
    breaker.failure();
    expect(breaker.allow()).toBe(true);
    breaker.success(); // a success in between resets the count
    breaker.failure();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      failures: 3,
      retryAt: new Date(60_000).toISOString(),
    });
    now = 59_999;
    expect(breaker.allow()).toBe(false);
    now = 60_000;
    expect(breaker.state).toBe('half_open');
    expect(breaker.allow()).toBe(true); // the one trial
    expect(breaker.allow()).toBe(false); // no second while it is out
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });

  it('opens again at once when the half-open trial fails', () => {
    let now = 0;
    const breaker = new CircuitBreaker('runbook:x', 1, 1_000, () => now);
    breaker.failure();
    now = 1_000;
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.retryAt()?.getTime()).toBe(2_000);
  });
});
