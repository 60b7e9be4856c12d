/**
 * Handing work off to another runbook. The parent starts the child run once, under an id made
 * from its own, the step's and the attempt's (so a restart finds the child instead of starting
 * another), and journals `child`; it sets aside the child's share of its budget, gives its slot
 * up while the child runs, and journals the child's end (`childEnd`, with what the child spent)
 * before it goes on. After a restart the same path finds the child and waits again; a replay
 * reads both records from the journal and starts nothing.
 */
import type { Runbook, RunStatus } from '@keel/schemas';
import type { RunBudget } from './budget';
import type { RecordOf } from './journalRecords';
import { childEndKey, childKey, type RunHistory } from './runHistory';
import { StepFailedError, type RunSlot } from './steps/stepRuntime';

/** Runs handing off to runs, at most this deep: a root and three generations of children. */
export const MAX_HANDOFF_DEPTH = 4;

export interface ChildStart {
  id: string;
  runbook: string;
  inputs: Record<string, unknown>;
  parent: { runId: string; stepId: string };
  /** The runbooks of the runs above the child, outermost first. */
  ancestry: string[];
  /** The child's share of its parent's budget. */
  limits: { maxUsd: number; maxTokens: number };
  /** The child's part of the parent's cassette (recording or replaying one). */
  scope: string;
  /** The event that started the root run: a child of an event run is as untrusted as its parent. */
  origin?: RecordOf<'run'>['origin'];
}

export interface ChildEnd {
  status: Exclude<RunStatus, 'queued' | 'running'>;
  outputs: Record<string, unknown> | null;
  error: string | null;
  /** What the child (and its own children) spent. */
  costUsd: number;
  tokens: number;
}

/** What runs need to hand off: the conductor's runs, or (runbook tests) runs in memory. */
export interface ChildRunPort {
  /** The runbook a hand-off names, as it would start now; throws naming the problem. */
  runbook(name: string): Promise<Runbook>;
  /** Starts the child run, unless a run with its id exists already. */
  start(request: ChildStart): Promise<void>;
  /** Resolves with the child's end once it has ended; rejects when `signal` aborts first. */
  wait(id: string, signal: AbortSignal): Promise<ChildEnd>;
}

export interface HandoffRequest {
  /** `<stepId>` (`<stepId>@<attempt>` when retried) or `<stepId>:<turn>:<call>` for an agent's. */
  key: string;
  stepId: string;
  runbook: string;
  inputs: Record<string, unknown>;
}

export function makeHandoff(context: {
  run: RecordOf<'run'>;
  history: RunHistory;
  children: ChildRunPort | null;
  signal: AbortSignal;
  budget: RunBudget;
  slot: RunSlot;
}): (request: HandoffRequest) => Promise<RecordOf<'childEnd'>> {
  const { run, history } = context;
  const port = (): ChildRunPort => {
    if (!context.children)
      throw new StepFailedError('hand-offs to other runbooks are not available here', false);
    return context.children;
  };
  return async (request) => {
    const ancestry = [...(run.ancestry ?? []), run.runbook];
    if (ancestry.includes(request.runbook)) {
      throw new StepFailedError(
        `step "${request.stepId}" hands off to ${request.runbook}, which is already running above it ` +
          `(${[...ancestry, request.runbook].join(' → ')}): runbooks that hand off in a cycle never end`,
        false,
      );
    }
    if (ancestry.length >= MAX_HANDOFF_DEPTH) {
      throw new StepFailedError(
        `step "${request.stepId}" would hand off ${ancestry.length} runs deep (${ancestry.join(' → ')} → ` +
          `${request.runbook}); at most ${MAX_HANDOFF_DEPTH - 1} levels of hand-off are allowed`,
        false,
      );
    }
    // A step run again after a takeover hands off afresh (`:t<n>`): a new child, not the old end.
    const generation = history.generation(request.stepId);
    const key = generation > 0 ? `${request.key}:t${generation}` : request.key;
    // "." cannot occur in a step id: a child's id never equals another run's or another child's.
    const id = `${run.id}.${key.replace(/:/g, '.')}`;
    const scope = [run.cassetteScope, key].filter(Boolean).join('/');
    // The child's share stays set aside while it runs, so parallel steps cannot spend it too.
    let share: ReturnType<RunBudget['shareWithChild']> | null = null;
    try {
      if (history.mode === 'live' && !history.recorded(childEndKey(id))) {
        const target = await port()
          .runbook(request.runbook)
          .catch((error: unknown) => refuse(request, error));
        share = context.budget.shareWithChild(target.budget, `step "${request.stepId}"`);
      }
      await history.once<RecordOf<'child'>>(
        { key: childKey(id), stepId: request.stepId, what: `hands off to ${request.runbook}` },
        async () => {
          await port()
            .start({
              id,
              runbook: request.runbook,
              inputs: request.inputs,
              parent: { runId: run.id, stepId: request.stepId },
              ancestry,
              limits: { maxUsd: share!.maxUsd, maxTokens: share!.maxTokens },
              scope,
              ...(run.origin ? { origin: run.origin } : {}),
            })
            .catch((error: unknown) => refuse(request, error));
          const record: RecordOf<'child'> = {
            type: 'child',
            stepId: request.stepId,
            runId: id,
            runbook: request.runbook,
            scope,
            at: now(),
          };
          return { result: record, record };
        },
      );
      let waited = false;
      const ended = await history.once<RecordOf<'childEnd'>>(
        { key: childEndKey(id), stepId: request.stepId, what: `waits for its child run ${id}` },
        async () => {
          waited = true;
          // Waiting takes no concurrency slot (the child may need it), and none of the run's time.
          context.slot.release();
          context.budget.pause();
          const end = await port()
            .wait(id, context.signal)
            .finally(() => context.budget.resumeClock());
          context.budget.spend(end.costUsd, end.tokens);
          const record: RecordOf<'childEnd'> = {
            type: 'childEnd',
            stepId: request.stepId,
            runId: id,
            ...end,
            at: now(),
          };
          return { result: record, record };
        },
      );
      // Journaled first, so the child's end is kept whatever happens while the run queues for a slot.
      if (waited) await context.slot.acquire();
      return ended;
    } finally {
      share?.release();
    }
  };
}

/** A hand-off that cannot start (unknown runbook, wrong inputs): trying again would not help. */
function refuse(request: HandoffRequest, error: unknown): never {
  if (error instanceof StepFailedError) throw error;
  const message = error instanceof Error ? error.message : String(error);
  throw new StepFailedError(
    `step "${request.stepId}" cannot hand off to ${request.runbook}: ${message}`,
    false,
  );
}

function now(): string {
  return new Date().toISOString();
}
