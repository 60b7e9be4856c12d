/**
 * The conductor's run queue: the runs under way, the order in which they wait for one of the
 * `runbooks.concurrency` slots, the executions holding one, and the runs held for a broken
 * runbook. It decides when a run goes; what a run does is the conductor's.
 */
import type { Runbook, RunSummary } from '@keel/schemas';
import type { Logger } from '../log';
import type { Journal } from './journal';
import type { RunHistory } from './runHistory';
import type { RunSlot } from './steps/stepRuntime';

export interface ActiveRun {
  journal: Journal;
  /** What happened so far, built once from the journal; every record of the run goes through it. */
  history: RunHistory;
  /** Replaced when a run halted by the emergency stop is queued again. */
  controller: AbortController;
  stepsTotal: number;
  /** The runbook the run keeps (its journal's); null for a journal from before Keel kept it. */
  runbook: Runbook | null;
  /** `running` while it holds a slot; a run waiting for the operator shows as its journal says. */
  state: 'queued' | 'running';
  /** Holds one of the `concurrency` slots (see `RunQueue`). */
  slot: boolean;
  /** Set while its execution, decided, is queued for a slot again: pump calls it to hand one over. */
  wake: (() => void) | null;
  /** Its end is being written: too late to cancel. */
  finishing: boolean;
  done: Promise<RunSummary>;
  resolve: (summary: RunSummary) => void;
}

export interface RunQueueHooks {
  /** Whether runs may take slots now: the daemon is not stopping, not stopped, and trusted. */
  open(): boolean;
  concurrency(): number;
  /** Executes a run given a slot for the first time (new, resumed, or halted and going on). */
  execute(id: string, run: ActiveRun): Promise<void>;
  /** The run's state changed: tell watchers. */
  changed(id: string): void;
  log: Logger;
}

/**
 * Slot accounting: `runbooks.concurrency` slots, held by the runs whose `slot` is set. pump hands
 * free slots out in queue order, to a new (or resumed) run, which starts executing, or to a run
 * whose execution waits for a slot again. A run gives its slot up while it waits for the
 * operator (`release`, right after its `waiting` record), so pending approvals stop no other
 * run; once the decision is journaled it joins the back of the queue (`acquire`) and goes on
 * when its turn comes. An execution that ends frees the slot it holds. Slots are never written
 * down: after a restart a waiting run resumes from its journal like any run, takes a slot,
 * reaches its proposal again and gives the slot up.
 */
export class RunQueue {
  readonly active = new Map<string, ActiveRun>();
  /** Runs executing now, by id (those waiting for the operator too): what a halt waits for. */
  readonly executing = new Map<string, Promise<void>>();
  private readonly order: string[] = [];
  /** Runs under way whose runbook does not parse: they wait for the file to be fixed. */
  private readonly held = new Set<string>();

  constructor(private readonly hooks: RunQueueHooks) {}

  /** A new or resumed run joins the back of the queue. */
  add(id: string, run: ActiveRun): void {
    this.active.set(id, run);
    this.order.push(id);
  }

  /** A halted run goes first when runs may go on again. */
  putFirst(id: string): void {
    this.order.unshift(id);
  }

  /** Takes a run out of the line; false when it was not waiting for a slot. */
  withdraw(id: string): boolean {
    const at = this.order.indexOf(id);
    if (at >= 0) this.order.splice(at, 1);
    return at >= 0;
  }

  /** The run has ended: it leaves the queue. */
  remove(id: string): void {
    this.active.delete(id);
  }

  /** Drops every run waiting for a slot (the daemon stops; journals keep them). */
  clear(): void {
    this.order.length = 0;
  }

  /** Holds a run whose runbook does not parse until `retryHeld`. */
  hold(id: string): void {
    this.held.add(id);
  }

  /** A runbook file changed: runs held for a broken runbook try again. */
  retryHeld(): void {
    for (const id of this.held) if (this.active.has(id)) this.order.push(id);
    this.held.clear();
    this.pump();
  }

  /** Halts every executing run where it is, and resolves once they have all stopped. */
  async halt(): Promise<void> {
    for (const id of this.executing.keys()) this.active.get(id)?.controller.abort(new Error('halt'));
    await this.settled();
  }

  /** Resolves when no run executes. */
  async settled(): Promise<void> {
    await Promise.all(this.executing.values());
  }

  /** The slot a run holds while it executes, given up while it waits for the operator. */
  slotOf(id: string, run: ActiveRun): RunSlot {
    return { release: () => this.release(id, run), acquire: () => this.acquire(id, run) };
  }

  private get running(): number {
    let holding = 0;
    for (const run of this.active.values()) if (run.slot) holding++;
    return holding;
  }

  pump(): void {
    while (this.hooks.open() && this.running < this.hooks.concurrency() && this.order.length > 0) {
      const id = this.order.shift()!;
      const run = this.active.get(id);
      if (!run) continue;
      run.state = 'running';
      run.slot = true;
      this.hooks.changed(id);
      const wake = run.wake;
      run.wake = null;
      if (wake) {
        wake();
        continue;
      }
      const execution = this.hooks
        .execute(id, run)
        .catch((error: unknown) => this.hooks.log.error('a run crashed the conductor', { run: id, error }))
        .finally(() => {
          // A run taken over right after it ended executes again under the same id, possibly
          // before this execution's end gets here: only this execution's own entry goes.
          if (this.executing.get(id) === execution) this.executing.delete(id);
          run.slot = false;
          this.pump();
        });
      this.executing.set(id, execution);
    }
  }

  private release(id: string, run: ActiveRun): void {
    run.slot = false;
    run.state = 'queued';
    this.hooks.changed(id);
    this.pump();
  }

  /** Queues an executing run for a slot; rejects if the run is cancelled or halted meanwhile. */
  private acquire(id: string, run: ActiveRun): Promise<void> {
    const signal = run.controller.signal;
    if (signal.aborted) return Promise.reject(new Error('stopped waiting for a slot'));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        run.wake = null;
        this.withdraw(id);
        reject(new Error('stopped waiting for a slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      run.wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      run.state = 'queued';
      this.order.push(id);
      this.hooks.changed(id);
      this.pump();
    });
  }
}
