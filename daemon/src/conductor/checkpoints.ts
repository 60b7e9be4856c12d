/**
 * How a run waits at a `checkpoint` step: a `checkpoint` record (the message and the state shown)
 * marks it as waiting for the operator, it gives its concurrency slot up, and the operator's
 * answer is journaled as `checkpointDecided` through the run history's `once` before the run goes
 * on. After a restart the same path waits again; a replay reads the answer from the journal. The
 * desk is where the conductor hands an answer to the run waiting for it.
 */
import { OperatorError } from '../errors';
import type { RunBudget } from './budget';
import type { RecordOf } from './journalRecords';
import { checkpointKey, type RunHistory } from './runHistory';
import type { RunSlot } from './steps/stepRuntime';

export interface CheckpointAnswer {
  action: 'continue' | 'edit';
  /** The operator's value for `edit`. */
  output?: unknown;
}

/** What runs need of the desk: to wait for the operator's answer at a checkpoint. */
export interface CheckpointPort {
  /** Resolves with the answer; call `journaled` once it is in the journal. */
  wait(
    runId: string,
    stepId: string,
    signal: AbortSignal,
  ): Promise<{ answer: CheckpointAnswer; journaled: () => void }>;
}

export interface CheckpointRequest {
  stepId: string;
  message: string;
  state: unknown;
}

interface Waiter {
  stepId: string;
  hand: (answer: CheckpointAnswer, journaled: () => void) => void;
}

/** The checkpoints runs wait at now, by run id (a run waits at one at a time per step). */
export class CheckpointDesk implements CheckpointPort {
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly arrivals = new Set<() => void>();

  wait(
    runId: string,
    stepId: string,
    signal: AbortSignal,
  ): Promise<{ answer: CheckpointAnswer; journaled: () => void }> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('stopped waiting at the checkpoint'));
      const waiter: Waiter = {
        stepId,
        hand: (answer, journaled) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ answer, journaled });
        },
      };
      const onAbort = (): void => {
        this.leave(runId, waiter);
        reject(new Error('stopped waiting at the checkpoint'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(runId, [...(this.waiting.get(runId) ?? []), waiter]);
      for (const arrived of [...this.arrivals]) arrived();
    });
  }

  /**
   * Hands the operator's answer to the run waiting at `stepId` (or its only checkpoint), and
   * resolves with the step once the answer is journaled. A run that is on its way back to its
   * checkpoint (resumed after a restart) is waited for up to `arriveMs`.
   */
  async decide(
    runId: string,
    stepId: string | null,
    answer: CheckpointAnswer,
    arriveMs = 10_000,
  ): Promise<string> {
    const waiter = this.find(runId, stepId) ?? (await this.arrival(runId, stepId, arriveMs));
    this.leave(runId, waiter);
    await new Promise<void>((journaled) => waiter.hand(answer, journaled));
    return waiter.stepId;
  }

  private find(runId: string, stepId: string | null): Waiter | undefined {
    const waiters = this.waiting.get(runId) ?? [];
    return stepId === null ? waiters[0] : waiters.find((w) => w.stepId === stepId);
  }

  private arrival(runId: string, stepId: string | null, ms: number): Promise<Waiter> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.find(runId, stepId);
        if (!found) return;
        this.arrivals.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.arrivals.delete(check);
        reject(
          new OperatorError(
            `run "${runId}" is not at its checkpoint now (halted by an emergency stop or waiting for trust?); ` +
              'answer again once it shows waiting_operator',
          ),
        );
      }, ms);
      this.arrivals.add(check);
    });
  }

  private leave(runId: string, waiter: Waiter): void {
    const left = (this.waiting.get(runId) ?? []).filter((w) => w !== waiter);
    if (left.length > 0) this.waiting.set(runId, left);
    else this.waiting.delete(runId);
  }
}

/** The runtime's `checkpoint`: waits (durably, slot given up) for the operator's answer. */
export function makeCheckpointer(context: {
  runId: string;
  history: RunHistory;
  desk: CheckpointPort | null;
  /** A runbook test: the checkpoint continues by itself. */
  capture: boolean;
  signal: AbortSignal;
  budget: RunBudget;
  slot: RunSlot;
}): (request: CheckpointRequest) => Promise<{ output: unknown }> {
  return async (request) => {
    if (context.capture) return { output: request.state };
    let waited = false;
    let journaled: (() => void) | null = null;
    const record = await context.history.once<RecordOf<'checkpointDecided'>>(
      { key: checkpointKey(request.stepId), stepId: request.stepId, what: 'waits at a checkpoint' },
      async () => {
        const desk = context.desk;
        if (!desk) throw new Error('checkpoints are not available in this run');
        await context.history.append({
          type: 'checkpoint',
          stepId: request.stepId,
          message: request.message,
          state: request.state,
          at: now(),
        });
        waited = true;
        // Waiting at a checkpoint takes no concurrency slot, and no wall-clock budget.
        context.slot.release();
        context.budget.pause();
        const handed = await desk
          .wait(context.runId, request.stepId, context.signal)
          .finally(() => context.budget.resumeClock());
        journaled = handed.journaled;
        const decided: RecordOf<'checkpointDecided'> = {
          type: 'checkpointDecided',
          stepId: request.stepId,
          action: handed.answer.action,
          output: handed.answer.action === 'edit' ? (handed.answer.output ?? null) : request.state,
          at: now(),
        };
        return { result: decided, record: decided };
      },
    );
    (journaled as (() => void) | null)?.();
    if (waited) await context.slot.acquire();
    return { output: record.output };
  };
}

function now(): string {
  return new Date().toISOString();
}
