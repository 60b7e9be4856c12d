/**
 * `checkpoint`: the run pauses for the operator to look at its state and continue (the step's
 * output is the state shown), edit it (their value is the output) or stop the run.
 */
import type { RunbookStep } from '@keel/schemas';
import { renderTemplate, renderText } from '../templates';
import type { StepResult, StepRuntime } from './stepRuntime';

type CheckpointStep = Extract<RunbookStep, { type: 'checkpoint' }>;

/** The message and the state shown, rendered: the step's input in the trace. */
export async function checkpointInput(
  step: CheckpointStep,
  runtime: StepRuntime,
): Promise<{ message: string; state: unknown }> {
  const steps = (runtime.scope.steps ?? {}) as Record<string, { output: unknown }>;
  const state = step.show
    ? await renderTemplate(step.show, runtime.scope)
    : Object.fromEntries(Object.entries(steps).map(([id, done]) => [id, done.output]));
  return { message: await renderText(step.message, runtime.scope), state };
}

export async function runCheckpoint(step: CheckpointStep, runtime: StepRuntime): Promise<StepResult> {
  const input = await checkpointInput(step, runtime);
  return runtime.checkpoint({ stepId: step.id, ...input });
}
