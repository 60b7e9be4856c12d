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
  it('frees dead buffers at once', async () => {
    // WeakRefs, not process.memoryUsage(): that counts every thread's buffers, and other test
    // files run meanwhile in this process.
    const refs = Array.from({ length: 64 }, () => new WeakRef(new ArrayBuffer(1024 * 1024)));
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    expect(collectGarbage()).toBe(true);
    expect(refs.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
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
