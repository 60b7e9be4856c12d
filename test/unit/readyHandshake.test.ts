/**
 * A webview view whose `ready` is late or lost still gets its state: the host sends the catch-up when
 * the page loads and again a few seconds apart, a bounded number of times, and stops once `ready`
 * comes. Real timers, short intervals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReadyHandshake, WEBVIEW_RETRY } from '../../extension/src/webviewHost/readyHandshake';

const POLICY = { intervalMs: 20, attempts: 4 };
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
let handshake: ReadyHandshake | null = null;
afterEach(() => handshake?.dispose());

describe('ready handshake', () => {
  it('sends the state at once and again until the attempts run out when ready never comes', async () => {
    const sent: number[] = [];
    const started = Date.now();
    handshake = new ReadyHandshake(() => sent.push(Date.now() - started), POLICY);
    handshake.start();
    expect(sent).toHaveLength(1);
    await expect.poll(() => sent.length).toBe(POLICY.attempts);
    await wait(POLICY.intervalMs * 4);
    expect(sent).toHaveLength(POLICY.attempts);
    // A few intervals apart, not a burst.
    expect(sent.at(-1)!).toBeGreaterThanOrEqual(POLICY.intervalMs * (POLICY.attempts - 1) - 5);
  });

  it('sends once more on ready and then stops retrying', async () => {
    let sent = 0;
    handshake = new ReadyHandshake(() => sent++, POLICY);
    handshake.start();
    handshake.ready();
    expect(sent).toBe(2);
    await wait(POLICY.intervalMs * (POLICY.attempts + 2));
    expect(sent).toBe(2);
  });

  it('starts over when the page loads again (a view hidden and shown)', async () => {
    let sent = 0;
    handshake = new ReadyHandshake(() => sent++, POLICY);
    handshake.start();
    handshake.ready();
    handshake.start();
    await expect.poll(() => sent).toBe(2 + POLICY.attempts);
    await wait(POLICY.intervalMs * 4);
    expect(sent).toBe(2 + POLICY.attempts);
  });

  it('stops when the view is disposed', async () => {
    let sent = 0;
    handshake = new ReadyHandshake(() => sent++, POLICY);
    handshake.start();
    handshake.dispose();
    await wait(POLICY.intervalMs * 3);
    expect(sent).toBe(1);
  });

  it('retries for several seconds in the extension, a few seconds apart', () => {
    expect(WEBVIEW_RETRY.intervalMs).toBeGreaterThanOrEqual(1_000);
    expect(WEBVIEW_RETRY.intervalMs * (WEBVIEW_RETRY.attempts - 1)).toBeGreaterThanOrEqual(5_000);
  });
});
