/**
 * `runbook`: hands work off to another runbook. The child run gets the step's inputs, runs like
 * any run (its own journal, slot and approvals) within a share of this run's budget, and its
 * outputs are the step's output. A child that fails fails the step (its `retry:` starts a new
 * child); one the operator cancelled or that ran out of budget is not tried again. With `forEach`
 * the step hands each item of a list off in turn (forEach.ts).
 */
import type { Runbook, RunbookInput, RunbookStep } from '@keel/schemas';
import type { ToolDefinition } from '../models/modelProvider';
import { renderDeep } from '../templates';
import { forEachInput, runForEach, type ForEachInput } from './forEach';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type HandoffStep = Extract<RunbookStep, { type: 'runbook' }>;

async function handoffInputs(step: HandoffStep, runtime: StepRuntime): Promise<Record<string, unknown>> {
  return (await renderDeep(step.inputs, runtime.scope)) as Record<string, unknown>;
}

/** What the step hands off, rendered (the trace shows it, replay compares it): one child or one per item. */
export async function handoffStepInput(
  step: HandoffStep,
  runtime: StepRuntime,
): Promise<{ runbook: string; inputs: Record<string, unknown> } | ForEachInput> {
  if (step.forEach !== undefined) return forEachInput(step, runtime);
  return { runbook: step.runbook, inputs: await handoffInputs(step, runtime) };
}

/** `input` is what handoffStepInput rendered for this attempt. */
export async function runHandoff(
  step: HandoffStep,
  runtime: StepRuntime,
  input: Awaited<ReturnType<typeof handoffStepInput>>,
): Promise<StepResult> {
  if ('forEach' in input) return runForEach(step, runtime, input);
  const { inputs } = input;
  const key = runtime.attempt > 1 ? `${step.id}@${runtime.attempt}` : step.id;
  const end = await runtime.handoff({ key, stepId: step.id, runbook: step.runbook, inputs });
  if (end.status !== 'succeeded') {
    throw new StepFailedError(
      `its child run ${end.runId} (${step.runbook}) ended ${end.status.replace('_', ' ')}` +
        (end.error ? `: ${end.error}` : ''),
      end.status === 'failed',
    );
  }
  return { output: end.outputs ?? {} };
}

/** The tool an agent calls to hand off to a runbook: `handoff_<name>`, taking the runbook's inputs. */
export function handoffTool(runbook: Runbook): ToolDefinition {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, input] of Object.entries(runbook.inputs)) {
    properties[name] = inputSchema(input);
    if (input.required ?? input.default === undefined) required.push(name);
  }
  return {
    type: 'function',
    function: {
      name: handoffToolName(runbook.name),
      description:
        `Hand work off to the "${runbook.name}" runbook (${runbook.role}): ${runbook.description} ` +
        'It runs as a child run; the answer is its outputs, or why it did not succeed.',
      parameters: { type: 'object', properties, required },
    },
  };
}

export function handoffToolName(runbook: string): string {
  return `handoff_${runbook}`;
}

function inputSchema(input: RunbookInput): Record<string, unknown> {
  return {
    type: input.type,
    ...(input.description ? { description: input.description } : {}),
    ...(input.enum ? { enum: input.enum } : {}),
  };
}
