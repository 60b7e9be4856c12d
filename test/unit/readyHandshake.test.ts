/**
 * A webview view whose `ready` is late or lost still gets its state: the host sends the catch-up when
 * the page loads and again a few seconds apart, a bounded number of times, and stops once `ready`
 * comes or the page says it received one (`loaded`). A page that says nothing through all of them
 * is reported silent, once, so that its owner loads it again. Real timers, short intervals.
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

  it('reports a page that says nothing through every catch-up as silent, once, an interval after the last', async () => {
    const sent: number[] = [];
    const silent: number[] = [];
    const started = Date.now();
    handshake = new ReadyHandshake(
      () => sent.push(Date.now() - started),
      POLICY,
      () => silent.push(Date.now() - started),
    );
    handshake.start();
    await expect.poll(() => silent.length).toBe(1);
    expect(sent).toHaveLength(POLICY.attempts);
    expect(silent[0]!).toBeGreaterThanOrEqual(sent.at(-1)! + POLICY.intervalMs - 5);
    await wait(POLICY.intervalMs * 4);
    expect(silent).toHaveLength(1);
    expect(sent).toHaveLength(POLICY.attempts);
  });

  it('stops, without sending again or reporting silence, when the page says it received a catch-up', async () => {
    let sent = 0;
    let silent = 0;
    const page = { received: () => undefined as void };
    handshake = new ReadyHandshake(
      () => {
        sent++;
        // The second catch-up arrives: the page says so.
        if (sent === 2) setTimeout(() => page.received(), 0);
      },
      POLICY,
      () => silent++,
    );
    page.received = () => handshake!.loaded();
    handshake.start();
    await wait(POLICY.intervalMs * (POLICY.attempts + 3));
    expect(sent).toBe(2);
    expect(silent).toBe(0);
  });

  it('does not report a page silent once it said ready, nor one loaded again before the silence', async () => {
    let silent = 0;
    handshake = new ReadyHandshake(
      () => undefined,
      POLICY,
      () => silent++,
    );
    handshake.start();
    handshake.ready();
    await wait(POLICY.intervalMs * (POLICY.attempts + 2));
    expect(silent).toBe(0);
    // Shown again: it starts over, and a page that stays silent this time is reported.
    handshake.start();
    await wait(POLICY.intervalMs * (POLICY.attempts - 2));
    handshake.start();
    await expect.poll(() => silent).toBe(1);
  });

  it('retries for several seconds in the extension, a few seconds apart', () => {
    expect(WEBVIEW_RETRY.intervalMs).toBeGreaterThanOrEqual(1_000);
    expect(WEBVIEW_RETRY.intervalMs * (WEBVIEW_RETRY.attempts - 1)).toBeGreaterThanOrEqual(5_000);
    // A silent page is loaded again within seconds, not left blank for long.
    expect(WEBVIEW_RETRY.intervalMs * WEBVIEW_RETRY.attempts).toBeLessThanOrEqual(12_000);
  });
});
