/**
 * `propose`: a file change for the operator. The run waits (durably) until it is decided; policy
 * (a keel.yaml `approvals.rules` rule) may apply it at once. A rejection ends the run unless the step
 * says `onReject: continue`, in which case later steps read the decision and its reason.
 * With `append:` the change is computed from the file as it is when the proposal is made (read
 * through the workspace's path rules), and carries the hash of what it was computed from: a file
 * edited before the operator decides makes the proposal stale, never overwritten blind.
 */
import type { RunbookStep } from '@keel/schemas';
import { renderText } from '../templates';
import { isKeelState, readInside, workspaceRelative } from '../../files/workspacePaths';
import { PARSE_LIMITS } from '../../memory/parse';
import { AppendError, appendUnderHeading } from '../../files/appendSection';
import { sha256 } from '../../approvals/applyChanges';
import type { DeferredChange, ProposedChange } from '../proposals';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type ProposeStep = Extract<RunbookStep, { type: 'propose' }>;

export async function runPropose(step: ProposeStep, runtime: StepRuntime): Promise<StepResult> {
  const path = workspaceRelative(await renderText(step.path, runtime.scope));
  const outcome = await runtime.propose({
    key: step.id,
    stepId: step.id,
    changes: [await proposedChange(step, path, runtime)],
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

async function proposedChange(
  step: ProposeStep,
  path: string,
  runtime: StepRuntime,
): Promise<ProposedChange | DeferredChange> {
  const append = step.append;
  if (!append) return { path, content: await renderText(step.content ?? '', runtime.scope) };
  const under = await renderText(append.under, runtime.scope);
  const text = await renderText(append.text, runtime.scope);
  return {
    path,
    compute: async () => {
      // Sections are a Markdown note's: Keel's own state, or a large export, is never read here.
      if (!path.toLowerCase().endsWith('.md') || isKeelState(path)) {
        throw new StepFailedError(
          `step "${step.id}" appends to ${path}: append works on a Markdown note (.md) of the workspace; ` +
            'give this step `content` (the whole new file) for another file',
          false,
        );
      }
      const bytes = await readInside(runtime.workspace, path, PARSE_LIMITS.maxFileBytes);
      const current = bytes?.toString('utf8') ?? null;
      if (current === null) {
        throw new StepFailedError(
          `step "${step.id}" appends to ${path}, which does not exist: create the note first, ` +
            'or give this step `content` (the whole new file) instead of `append`',
          false,
        );
      }
      try {
        return {
          content: appendUnderHeading(current, under, text),
          baseHash: sha256(current),
          append: { under, text },
        };
      } catch (error) {
        if (!(error instanceof AppendError)) throw error;
        throw new StepFailedError(`step "${step.id}" cannot append to ${path}: ${error.message}`, false);
      }
    },
  };
}
