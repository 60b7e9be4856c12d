/**
 * `runbook` with `forEach`: one child run per item of a list, one after another. Each child is an
 * ordinary hand-off (handoffs.ts) keyed by the step and the item's index, so a parent restarted
 * after a kill -9 finds the children it started (and their ends) in its journal: it neither starts
 * a second child for an item nor skips one. The list comes from earlier steps' outputs, which the
 * journal holds, so a restart reads the same list in the same order.
 */
import { MAX_FOR_EACH_ITEMS, type RunbookStep } from '@keel/schemas';
import type { RecordOf } from '../journalRecords';
import { renderDeep, renderTemplate } from '../templates';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type HandoffStep = Extract<RunbookStep, { type: 'runbook' }>;

/** What a `forEach` hand-off works on: each child's inputs, rendered with its `item` and `index`. */
export interface ForEachInput {
  runbook: string;
  forEach: { inputs: Record<string, unknown> }[];
}

/** One child's end, as the step's output lists it. */
export interface ChildOutcome {
  index: number;
  runId: string;
  status: RecordOf<'childEnd'>['status'];
  outputs: Record<string, unknown> | null;
  error: string | null;
}

/**
 * The list `forEach` gives, checked: a list of at most MAX_FOR_EACH_ITEMS items. The cap holds
 * whatever the list was built from (a customer name, a model's answer cannot make it longer).
 */
export async function forEachItems(step: HandoffStep, runtime: StepRuntime): Promise<unknown[]> {
  const items = await renderTemplate(step.forEach!, runtime.scope);
  if (!Array.isArray(items)) {
    const kind = items === null || items === undefined ? 'nothing' : `a ${typeof items}`;
    throw new StepFailedError(
      `step "${step.id}": forEach (${step.forEach}) gave ${kind}, not a list; make it one expression ` +
        'that names a list, such as {{ steps.overdue.output.customers }}',
      false,
    );
  }
  if (items.length > MAX_FOR_EACH_ITEMS) {
    throw new StepFailedError(
      `step "${step.id}" would hand off ${items.length} items to ${step.runbook} (forEach), more than the ` +
        `${MAX_FOR_EACH_ITEMS} a step may start; narrow the list in an earlier step (a limit or a filter)`,
      false,
    );
  }
  return items as unknown[];
}

/** Each child's inputs: the step's `inputs` rendered with the item and its index in scope. */
export async function forEachInput(step: HandoffStep, runtime: StepRuntime): Promise<ForEachInput> {
  const items = await forEachItems(step, runtime);
  const forEach: ForEachInput['forEach'] = [];
  for (const [index, item] of items.entries()) {
    const scope = { ...runtime.scope, item, index };
    forEach.push({ inputs: (await renderDeep(step.inputs, scope)) as Record<string, unknown> });
  }
  return { runbook: step.runbook, forEach };
}

/**
 * Hands each item off in turn and lists how each child ended. A child that failed or ran out of
 * budget fails the step, but only once every item had its child: one customer's failure must not
 * keep the next customer's reminder from its operator. A child the operator stopped is an outcome.
 */
export async function runForEach(
  step: HandoffStep,
  runtime: StepRuntime,
  input: ForEachInput,
): Promise<StepResult> {
  const outcomes: ChildOutcome[] = [];
  for (const [index, { inputs }] of input.forEach.entries()) {
    const end = await runtime.handoff({
      key: `${step.id}:${index}`,
      stepId: step.id,
      runbook: step.runbook,
      inputs,
    });
    outcomes.push({ index, runId: end.runId, status: end.status, outputs: end.outputs, error: end.error });
  }
  const bad = outcomes.filter(
    (outcome) => outcome.status === 'failed' || outcome.status === 'budget_exceeded',
  );
  if (bad.length > 0) {
    throw new StepFailedError(
      `${bad.length} of ${outcomes.length} child runs of ${step.runbook} did not succeed: ` +
        outcomes.map(describe).join('; '),
      false,
    );
  }
  return { output: outcomes };
}

function describe(outcome: ChildOutcome): string {
  const status = outcome.status.replace('_', ' ');
  return `item ${outcome.index} (${outcome.runId}) ${status}${outcome.error ? `: ${outcome.error}` : ''}`;
}
