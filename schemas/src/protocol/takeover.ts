/** Taking an ended run over from a step, and answering a run that waits at a checkpoint. */
import { z } from 'zod';
import { defineRequest, lazy } from './define';
import { RunSummary } from './runs';

/** A step output the operator gives by hand: any JSON value (text is a string). */
const SuppliedOutput = lazy(() => z.strictObject({ value: z.unknown() }));

/**
 * `keel/runs/takeover`: a failed, cancelled or budget_exceeded run goes on from `fromStep`, with
 * the steps before it taken from its journal and the runbook version it kept. With `output`, that
 * is the step's result (supplied by the operator) and the run goes on after it. The client reads
 * any file itself: the daemon is sent the value, never a path.
 */
export const RunTakeoverRequest = defineRequest({
  method: 'keel/runs/takeover',
  params: lazy(() =>
    z.strictObject({
      id: z.string().min(1),
      fromStep: z.string().min(1),
      output: SuppliedOutput.unwrap().optional(),
    }),
  ),
  result: RunSummary,
});

/**
 * `keel/runs/checkpoint`: the operator's answer to a run waiting at a checkpoint step:
 * `continue` (the step's output is the state shown), `edit` (`output` is the step's output) or
 * `stop` (the run ends cancelled). Answered once the answer is in the run's journal.
 */
export const RunCheckpointRequest = defineRequest({
  method: 'keel/runs/checkpoint',
  params: lazy(() =>
    z.discriminatedUnion('action', [
      z.strictObject({ id: z.string().min(1), action: z.literal('continue') }),
      z.strictObject({ id: z.string().min(1), action: z.literal('edit'), output: SuppliedOutput.unwrap() }),
      z.strictObject({ id: z.string().min(1), action: z.literal('stop') }),
    ]),
  ),
  result: lazy(() => z.object({ run: RunSummary.unwrap(), stepId: z.string() })),
});
