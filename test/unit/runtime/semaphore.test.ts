/** The semaphore that bounds concurrent searches, and how the index waits for them to be answered. */
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../daemon/src/runtime/semaphore';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Semaphore', () => {
  it('runs at most its limit at once, the others in order of arrival', async () => {
    const semaphore = new Semaphore(2);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      semaphore.run(async () => {
        started.push(i);
        await gate.promise;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(semaphore.waiting).toBe(1);
    gates[0]!.resolve();
    await runs[0];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all(runs);
  });

  it('is idle at once with nothing running, and otherwise once the last task, queued ones too, ends', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.idle();
    const first = deferred();
    const second = deferred();
    const runs = [semaphore.run(() => first.promise), semaphore.run(() => second.promise)];
    let idle = false;
    const waiting = semaphore.idle().then(() => (idle = true));
    first.resolve();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    // The queued task took the slot: still busy.
    expect(idle).toBe(false);
    second.resolve();
    await waiting;
    expect(idle).toBe(true);
  });
});
