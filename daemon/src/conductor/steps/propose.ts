/**
 * `propose`: a file change for the operator. The run waits (durably) until it is decided; policy
 * (a keel.yaml `approvals.rules` rule) may apply it at once. A rejection ends the run unless the step
 * says `onReject: continue`, in which case later steps read the decision and its reason.
 */
import type { RunbookStep } from '@keel/schemas';
import { renderText } from '../templates';
import { workspaceRelative } from '../../files/workspacePaths';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type ProposeStep = Extract<RunbookStep, { type: 'propose' }>;

export async function runPropose(step: ProposeStep, runtime: StepRuntime): Promise<StepResult> {
  const path = workspaceRelative(await renderText(step.path, runtime.scope));
  const outcome = await runtime.propose({
    key: step.id,
    stepId: step.id,
    changes: [{ path, content: await renderText(step.content, runtime.scope) }],
    summary: await renderText(step.summary, runtime.scope),
    reasoning: await renderText(step.reasoning, runtime.scope),
  });
  if (outcome.decision === 'rejected' && step.onReject === 'fail') {
    throw new StepFailedError(
      `the operator rejected the change: ${outcome.reason ?? 'no reason given'}`,
      false,
    );
  }
  return { output: outcome };
}
