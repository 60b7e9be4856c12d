/**
 * Exactly once across a crash, for one connector action: its intent is journaled before it is
 * performed and its result (or its refusal) after, so an intent left open was cut off. Then the
 * provider is asked (`find`) whether it happened; an action that cannot be asked is never done
 * again blindly: the step fails for the operator to check and take the run over.
 */
import type { ConnectorInstance } from '../../connectors/registry';
import {
  ActionInputError,
  OutcomeUnknownError,
  type ActionContext,
  type ConnectorAction,
} from '../../connectors/sdk';
import { StepFailedError, type StepRuntime } from './stepRuntime';

export interface ActionCall {
  /** The effect's idempotency key, `<run>:<step>[...]`. */
  key: string;
  instance: ConnectorInstance;
  actionName: string;
  action: ConnectorAction;
  /** The input it runs with, after the operator's edit. */
  input: unknown;
  /** The key of the action this call undoes (compensation). */
  undoes?: string;
}

/** Performs a non-`read` action under a journaled intent; resolves with its (unchecked) answer. */
export async function performOnce(
  runtime: StepRuntime,
  call: ActionCall,
  ctx: ActionContext,
): Promise<unknown> {
  const { key, instance, actionName, action, input } = call;
  const named = `${instance.name}.${actionName}`;
  const state = await runtime.intend({
    key,
    // What `use:` says, as the effect record keeps it: compensation finds the instance by it.
    connector: instance.use,
    action: actionName,
    input,
    ...(call.undoes ? { undoes: call.undoes } : {}),
  });
  if (state === 'cut_off') {
    if (!action.find) throw new StepFailedError(cutOff(runtime.runId, key, named, 'a restart'), false);
    const found: unknown = await action.find(input, ctx);
    if (found !== null && found !== undefined) return found;
  }
  try {
    return await action.perform(input, ctx);
  } catch (error) {
    // Scrubbed before it is journaled (and projected into the run store a `query` step reads): a
    // provider's error may quote the credential it was sent.
    const message = runtime.connectors.scrub(error instanceof Error ? error.message : String(error));
    if (error instanceof OutcomeUnknownError || ctx.signal.aborted) {
      // The intent stays open: the next attempt asks the provider, or the operator is asked.
      if (!action.find) throw new StepFailedError(cutOff(runtime.runId, key, named, message), false);
      throw error;
    }
    await runtime.failedIntent(key, message);
    if (error instanceof ActionInputError) throw new StepFailedError(`${named}: ${message}`, false);
    throw error;
  }
}

/** Why a cut-off action without `find` waits for the operator, and what they do next. */
export function cutOff(runId: string, key: string, named: string, why: string): string {
  const stepId = key.split(':')[1] ?? '';
  return (
    `${named} (${key}) was cut off before its result was recorded (${why}) and may have happened; ` +
    `its connector cannot be asked (the action has no find), so Keel will not do it again unasked. ` +
    `Check the provider, then take the run over: "keel resume ${runId} --from ${stepId}" does it again, ` +
    `or add "--output FILE" to skip it with the output you give.`
  );
}
