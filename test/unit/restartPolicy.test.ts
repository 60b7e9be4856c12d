/** The extension restarts a crashed daemon with growing backoff, then gives up and asks. */
import { describe, expect, it } from 'vitest';
import { CRASH_WINDOW_MS, MAX_CRASHES, RestartPolicy } from '../../extension/src/restartPolicy';

describe('restart policy', () => {
  it('backs off 1 s, 2 s, 4 s, 8 s, 16 s, then gives up with a message saying what to do', () => {
    const policy = new RestartPolicy();
    const delays = Array.from({ length: MAX_CRASHES }, (_, i) => policy.onCrash(i * 1_000));
    expect(delays.map((d) => d.action === 'restart' && d.delayMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000,
    ]);
    const last = policy.onCrash(10_000);
    expect(last.action).toBe('giveUp');
    expect(last.action === 'giveUp' && last.message).toMatch(/crashed 6 times in 3 minutes.*Restart/);
  });

  it('forgets crashes older than the window', () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < MAX_CRASHES; i++) policy.onCrash(i);
    expect(policy.onCrash(CRASH_WINDOW_MS + 10)).toEqual({ action: 'restart', crashes: 1, delayMs: 1_000 });
  });

  it('starts afresh after the operator restarts by hand', () => {
    const policy = new RestartPolicy();
    for (let i = 0; i <= MAX_CRASHES; i++) policy.onCrash(i);
    policy.reset();
    expect(policy.onCrash(100)).toEqual({ action: 'restart', crashes: 1, delayMs: 1_000 });
  });
});
