/**
 * Steps of one run executing at the same time: a step starts once everything it `needs:` has
 * ended, up to a limit (keel.yaml `runbooks.parallelSteps`). The first step that stops the run
 * (a failure, a spent budget, a cancel) stops the others; nothing new starts after it.
 */
import type { StepGraph } from './stepGraph';
import type { RunSlot } from './steps/stepRuntime';

export interface BranchesOptions<Stop> {
  graph: StepGraph;
  /** Steps already ended (taken from the journal); the ones that end now are added. */
  ended: Set<string>;
  /** Steps executing at once, at most. */
  limit: number;
  /** Executes one step: null when it ended (succeeded or skipped), else why the run stops. */
  run: (id: string) => Promise<Stop | null>;
  /** The run's slot, shared by its steps. */
  slot: SharedSlot;
  /** Tells the steps still executing to stop (the run is over). */
  stopOthers: () => void;
  /** Called whenever the number of steps executing changes. */
  onRunning: (steps: number) => void;
}

/**
 * Executes the steps as their needs allow; resolves with the first stop, or null once every step
 * has ended. An error a step throws (a replay that diverged) is thrown once every step has settled.
 */
export async function runBranches<Stop>(options: BranchesOptions<Stop>): Promise<Stop | null> {
  const { graph, ended, slot } = options;
  const started = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let stop: { value: Stop } | { error: unknown } | null = null;
  const halt = (why: { value: Stop } | { error: unknown }): void => {
    if (stop) return;
    stop = why;
    options.stopOthers();
  };
  const launch = (id: string): void => {
    started.add(id);
    const task = options
      .run(id)
      .then(
        (result) => (result === null ? void ended.add(id) : halt({ value: result })),
        (error: unknown) => halt({ error }),
      )
      .finally(() => {
        running.delete(id);
        slot.leave();
      });
    running.set(id, task);
  };
  for (;;) {
    if (!stop) {
      for (const id of graph.ready(ended, started)) {
        if (running.size >= options.limit) break;
        // Holds the run's slot before a step works (it was given up if every step waited).
        await slot.enter();
        if (stop) {
          slot.leave();
          break;
        }
        launch(id);
      }
    }
    options.onRunning(running.size);
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  const settled = stop as { value: Stop } | { error: unknown } | null;
  if (settled && 'error' in settled) throw settled.error;
  return settled?.value ?? null;
}

/**
 * The run's concurrency slot as its parallel steps share it: given up once every step executing
 * waits for the operator, taken again (queueing behind other runs) as soon as one goes on.
 */
export class SharedSlot {
  private running = 0;
  private waiting = 0;
  private held = true;
  /** Give-ups and take-backs of the run's slot, in order. */
  private changes: Promise<void> = Promise.resolve();

  constructor(private readonly slot: RunSlot) {}

  /** The slot as one step sees it: released while that step waits, acquired when it goes on. */
  readonly step: RunSlot = {
    release: () => {
      this.waiting++;
      this.settle().catch(() => undefined);
    },
    acquire: () => {
      this.waiting = Math.max(0, this.waiting - 1);
      return this.settle();
    },
  };

  /** A step starts: resolves once the run holds its slot. */
  enter(): Promise<void> {
    this.running++;
    return this.settle();
  }

  /** A step ended (however: a step stopped while waiting does not take the slot back first). */
  leave(): void {
    this.running = Math.max(0, this.running - 1);
    this.waiting = Math.min(this.waiting, this.running);
    this.settle().catch(() => undefined);
  }

  private settle(): Promise<void> {
    const working = this.running > this.waiting;
    if (working && !this.held) {
      this.held = true;
      this.changes = this.changes.then(() => this.slot.acquire());
    } else if (!working && this.running > 0 && this.held) {
      this.held = false;
      this.changes = this.changes.then(() => this.slot.release());
    }
    return this.changes;
  }
}
