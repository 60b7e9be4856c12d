/**
 * Taking an ended run over: the operator has a failed, cancelled or budget_exceeded run go on
 * from a step they choose, with everything before it taken from the journal, or gives that step's
 * output by hand. The run's own journal gets a `takeover` record and the run is active again;
 * what the record forgets (the earlier end, the chosen step and the steps that need it, their
 * model answers and decisions) is worked out here, the same way for the live run, its summary,
 * its trace, a restart and a replay. Side effects are never forgotten: nothing is sent twice.
 */
import { schemaCheck, type SchemaProblem } from '../connectors/linearTimeAjv';
import type { Runbook, RunbookStep, RunStatus, RunSummary } from '@keel/schemas';
import { OperatorError } from '../errors';
import type { JournalRecord, RecordOf } from './journalRecords';
import { StepGraph } from './stepGraph';

/** What a run must have ended as to be taken over. */
export const TAKEOVER_STATUSES: readonly RunStatus[] = ['failed', 'cancelled', 'budget_exceeded'];

/**
 * The journal as it stands after every takeover in it: the records each takeover forgot are
 * left out (model calls stay: they were paid for; side effects stay: they happened), and a
 * hand-supplied output reads as the step's end (`supplied: false` leaves that end out, for
 * comparing with a replay, which takes it from the journal instead of producing it).
 */
export function effectiveRecords(
  records: readonly JournalRecord[],
  options: { supplied: boolean } = { supplied: true },
): readonly JournalRecord[] {
  if (!records.some((record) => record.type === 'takeover')) return records;
  let out: JournalRecord[] = [];
  for (const record of records) {
    if (record.type !== 'takeover') {
      out.push(record);
      continue;
    }
    const again = new Set(record.steps);
    out = out.filter((earlier) => !forgotten(earlier, again));
    out.push(record);
    if (record.supplied && options.supplied) out.push(suppliedEnd(record));
  }
  return out;
}

/** Whether a takeover of `again` forgets this earlier record. */
export function forgotten(record: JournalRecord, again: ReadonlySet<string>): boolean {
  switch (record.type) {
    case 'runEnd':
    case 'cancelRequested':
      return true;
    case 'stepStart':
    case 'stepEnd':
    case 'waiting':
    case 'decided':
    case 'checkpoint':
    case 'checkpointDecided':
      return again.has(record.stepId);
    default:
      return false;
  }
}

/** The end a hand-supplied output gives its step. */
export function suppliedEnd(record: RecordOf<'takeover'>): RecordOf<'stepEnd'> {
  return {
    type: 'stepEnd',
    stepId: record.fromStep,
    status: 'succeeded',
    output: record.output ?? null,
    error: null,
    retrieved: [],
    at: record.at,
  };
}

/** The run's end as it stands (a takeover after it means the run is active again), or null. */
export function currentEnd(records: readonly JournalRecord[]): RecordOf<'runEnd'> | null {
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i]!;
    if (record.type === 'runEnd') return record;
    if (record.type === 'takeover') return null;
  }
  return null;
}

/** Whether the operator cancelled the run since it was last taken over. */
export function cancelPending(records: readonly JournalRecord[]): boolean {
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i]!;
    if (record.type === 'cancelRequested') return true;
    if (record.type === 'takeover') return false;
  }
  return false;
}

/** The step ids a takeover from `fromStep` runs again: it, and every step that needs it. */
export function stepsAgain(runbook: Runbook, fromStep: string): string[] {
  const graph = new StepGraph(runbook.steps);
  return runbook.steps
    .filter((step) => step.id === fromStep || graph.before(step.id).has(fromStep))
    .map((step) => step.id);
}

export interface TakeoverRequest {
  id: string;
  fromStep: string;
  /** The step's output, given by the operator; absent: the step runs again. */
  output?: { value: unknown } | undefined;
}

/**
 * Checks a takeover against the run as its journal has it and returns the record to append.
 * Refuses (OperatorError, in words the operator can act on) a run that has not ended as failed,
 * cancelled or budget_exceeded, a step the run's runbook does not have, a step whose earlier
 * steps did not all end, and an output that does not match the step's `schema`.
 */
export function planTakeover(
  summary: RunSummary,
  runbook: Runbook,
  records: readonly JournalRecord[],
  request: TakeoverRequest,
): RecordOf<'takeover'> {
  if (!TAKEOVER_STATUSES.includes(summary.status)) {
    throw new OperatorError(
      `run "${summary.id}" is ${summary.status}: only a failed, cancelled or budget_exceeded run can be taken over` +
        (summary.status === 'waiting_operator' ? ` (it waits at a checkpoint: see "keel checkpoint")` : ''),
    );
  }
  const step = runbook.steps.find((s) => s.id === request.fromStep);
  if (!step) {
    throw new OperatorError(
      `"${request.fromStep}" is not a step of ${runbook.name} as run ${summary.id} has it ` +
        `(steps: ${runbook.steps.map((s) => s.id).join(', ')})`,
    );
  }
  const ends = new Map<string, RecordOf<'stepEnd'>>();
  for (const record of effectiveRecords(records))
    if (record.type === 'stepEnd') ends.set(record.stepId, record);
  const before = new StepGraph(runbook.steps).before(step.id);
  const open = runbook.steps.find(
    (s) => before.has(s.id) && (ends.get(s.id)?.status ?? 'failed') === 'failed',
  );
  if (open) {
    throw new OperatorError(
      `step "${open.id}" comes before "${step.id}" and did not end in run ${summary.id}; ` +
        `take the run over from "${open.id}" (or a step before it) instead`,
    );
  }
  if (request.output) checkOutput(step, request.output.value);
  return {
    type: 'takeover',
    fromStep: step.id,
    steps: stepsAgain(runbook, step.id),
    supplied: request.output !== undefined,
    output: request.output?.value ?? null,
    by: 'operator',
    at: new Date().toISOString(),
  };
}

/** An `llm` step with a `schema` gets only output that matches it, as the model's would be. */
function checkOutput(step: RunbookStep, value: unknown): void {
  if (step.type !== 'llm' || !step.schema) return;
  let problem: SchemaProblem | null;
  try {
    problem = schemaCheck(step.schema)(value);
  } catch (error) {
    throw new OperatorError(
      `step "${step.id}" has a schema that cannot be used: ${(error as Error).message}`,
    );
  }
  if (problem) {
    const where = problem.path.length ? ` at ${problem.path.join('.')}` : '';
    throw new OperatorError(
      `the output for step "${step.id}" does not match its schema${where}: ${problem.message}`,
    );
  }
}
