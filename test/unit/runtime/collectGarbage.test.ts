/**
 * The full collection the daemon runs after a cold index (runtime/collectGarbage.ts): it frees
 * what is dead now, in this thread and in the worker, and leaves no `gc` for later code to find.
 */
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../../daemon/src/runtime/collectGarbage';
import { WorkerThread } from '../../../daemon/src/runtime/workerThread';

let thread: WorkerThread | null = null;
afterEach(async () => {
  await thread?.close();
  thread = null;
});

describe('collectGarbage', () => {
  it('frees dead buffers at once', () => {
    collectGarbage();
    const before = process.memoryUsage().arrayBuffers;
    let buffers: ArrayBuffer[] | null = Array.from({ length: 64 }, () => new ArrayBuffer(1024 * 1024));
    // Other dead buffers may go meanwhile (an allocation can start a collection): about 64 MB.
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(56 * 1024 * 1024);
    buffers.length = 0;
    buffers = null;
    expect(collectGarbage()).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('leaves no gc global in contexts made after it', () => {
    collectGarbage();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('runs in the worker thread on request, which still serves templates after it', async () => {
    thread = new WorkerThread({ name: 'test', timeoutMs: 5_000 });
    expect(thread.started).toBe(false);
    await expect(thread.call('collectGarbage', null)).resolves.toBe(true);
    expect(thread.started).toBe(true);
    await expect(
      thread.call('render', { template: '{{ gc }}|{{ 1 | plus: 1 }}', scope: {}, mode: 'text' }),
    ).resolves.toBe('|2');
  });
});
