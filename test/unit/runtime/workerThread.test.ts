/**
 * The daemon's worker thread (the built daemon/dist/worker.js): answers in order, stops a request
 * past its deadline by replacing the thread, and serves the next request on a fresh one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerThread, WorkerTimeoutError } from '../../../daemon/src/runtime/workerThread';

let thread: WorkerThread | null = null;
afterEach(async () => {
  await thread?.close();
  thread = null;
});

const LOOP = '{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}';

describe('the worker thread', () => {
  it('renders templates off the main thread, in the order asked', async () => {
    thread = new WorkerThread({ name: 'test', timeoutMs: 5_000 });
    const answers = await Promise.all(
      [1, 2, 3].map((n) => thread!.call('render', { template: `n={{ n }}`, scope: { n }, mode: 'text' })),
    );
    expect(answers).toEqual(['n=1', 'n=2', 'n=3']);
  });

  it('stops a request past its deadline, fails it, and serves the next one on a new thread', async () => {
    thread = new WorkerThread({ name: 'test', timeoutMs: 150 });
    const started = performance.now();
    const slow = thread.call('render', { template: LOOP, scope: {}, mode: 'text' });
    const next = thread.call('render', { template: 'ok', scope: {}, mode: 'text' });
    await expect(slow).rejects.toBeInstanceOf(WorkerTimeoutError);
    expect(performance.now() - started).toBeLessThan(1_500);
    await expect(next).resolves.toBe('ok');
  });

  it('passes a task error back as an error, and keeps the thread', async () => {
    thread = new WorkerThread({ name: 'test', timeoutMs: 5_000 });
    await expect(
      thread.call('render', { template: '{{ x | nosuchfilter }}', scope: {}, mode: 'text' }),
    ).rejects.toThrow(/nosuchfilter/);
    await expect(
      thread.call('render', { template: '{{ 1 | plus: 1 }}', scope: {}, mode: 'text' }),
    ).resolves.toBe('2');
  });
});
