/**
 * Compensation: a run that failed, ran out of budget, or that the operator cancelled takes back
 * the connector actions it performed, newest first, each through the `undo` its action declares.
 * Every undo is an action like any other: its own key (`<key>:undo`), its intent and result
 * journaled, so a crash during compensation resumes it without undoing anything twice, and a
 * `compensation` record per action says how it was settled (the trace shows these lines). What
 * cannot be taken back is named in the run's failure for the operator: an action without `undo`,
 * an undo that failed, an action cut off before its result was known.
 *
 * Approval: an undo is decided by the same keel.yaml rules and risk as any action (it changes the
 * outside world too, and a rule that denies `email.move` must hold for the move back). But
 * compensation never waits: the run has already ended for the operator, so an undo the policy
 * would ask about (or deny) is not run; it is named as needing the operator, like one with no undo.
 * Nothing a step or a model produces is read here, only the journal: no output can skip it.
 */
import type { CompensationLine } from '@keel/schemas';
import { actionOf } from '../connectors/sdk';
import type { RecordOf } from './journalRecords';
import { effectKey, undoKey, type RunHistory } from './runHistory';
import { callConnector } from './steps/connector';
import type { StepRuntime } from './steps/stepRuntime';

/** How long one undo may take: compensation runs after the run's own signal may have stopped it. */
const UNDO_TIMEOUT_MS = 120_000;

/** Whether a run ending so takes its actions back (never a run interrupted by a shutdown, nor a test's captures). */
export function compensates(
  status: string,
  history: RunHistory,
  effects: 'perform' | 'capture' | undefined,
): boolean {
  if (effects === 'capture') return false;
  if (status === 'cancelled') return history.cancelRequested();
  return status === 'failed' || status === 'budget_exceeded';
}

/**
 * Undoes what the run did, newest first, once; resolves with a sentence per action that needs the
 * operator. A replay takes every line from the journal and does nothing.
 */
export async function compensate(runtime: StepRuntime, history: RunHistory): Promise<string[]> {
  const notes: string[] = [];
  for (const effect of history.performedActions().reverse()) {
    const settled = history.compensation(effect.key);
    if (settled) {
      if (settled.outcome !== 'undone') notes.push(noteOf(settled));
      continue;
    }
    if (history.mode === 'replay') continue;
    const line = await undoOne(runtime, history, effect);
    await history.append({ type: 'compensation', ...line });
    if (line.outcome !== 'undone') notes.push(noteOf(line));
  }
  for (const open of history.cutOffActions()) {
    notes.push(
      `needs the operator: ${open.connector}.${open.action} (${open.key}) was cut off and may have happened; check the provider`,
    );
  }
  return notes;
}

/**
 * The run's failure with what needs the operator after compensation; a cut-off action the
 * failure already names (the step that stopped on it) is not named twice.
 */
export function withOperatorNotes(error: string | null, notes: string[]): string | null {
  const news = notes.filter((note) => {
    const cut = /^needs the operator: \S+ (\(\S+\)) was cut off/.exec(note);
    return !(cut && error?.includes(`${cut[1]} was cut off`));
  });
  if (news.length === 0) return error;
  return [error ?? 'the run did not succeed', ...news].join('; ');
}

async function undoOne(
  runtime: StepRuntime,
  history: RunHistory,
  effect: RecordOf<'effect'>,
): Promise<CompensationLine> {
  const intent = history.intent(effectKey(effect.key))!;
  const line = (
    outcome: CompensationLine['outcome'],
    undo: string | null,
    detail: string | null,
  ): CompensationLine => ({
    stepId: effect.stepId,
    key: effect.key,
    connector: intent.connector,
    action: intent.action,
    undo,
    outcome,
    detail,
    at: new Date().toISOString(),
  });
  const instance = runtime.connectors.find(intent.connector);
  const action = instance ? actionOf(instance.connector, intent.action) : null;
  if (!instance || !action) {
    return line('failed', null, `${intent.connector} or its action ${intent.action} is no longer configured`);
  }
  if (!action.undo) return line('not_undoable', null, null);
  const undo = action.undo.action;
  let input: unknown;
  try {
    input = action.undo.input(intent.input, effect.result);
  } catch (error) {
    return line('failed', undo, `its undo input could not be made: ${messageOf(error)}`);
  }
  const undoAction = actionOf(instance.connector, undo);
  const decision = undoAction ? runtime.connectors.decide(instance, undo, input, runtime.fromEvent) : null;
  if (decision && decision.decide !== 'allow') {
    return line('needs_approval', undo, `keel.yaml decides "${decision.decide}" (${decision.rule})`);
  }
  try {
    const signal = AbortSignal.timeout(UNDO_TIMEOUT_MS);
    await callConnector(
      { ...runtime, signal },
      undoKey(effect.key),
      intent.connector,
      undo,
      input as Record<string, unknown>,
      { undoes: effect.key },
    );
    return line('undone', undo, null);
  } catch (error) {
    return line('failed', undo, messageOf(error));
  }
}

function noteOf(line: CompensationLine): string {
  const what = `${line.connector}.${line.action} (${line.key})`;
  switch (line.outcome) {
    case 'not_undoable':
      return `needs the operator: ${what} cannot be undone`;
    case 'needs_approval':
      return `needs the operator: ${what} was not undone: keel.yaml does not let its undo ${line.undo} run unasked (${line.detail})`;
    default:
      return `needs the operator: ${what} could not be undone: ${line.detail ?? 'its undo failed'}`;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
