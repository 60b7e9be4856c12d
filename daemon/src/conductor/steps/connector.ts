/** `connector`: a side effect through a versioned adapter, once per run and step. */
import type { RunbookStep } from '@keel/schemas';
import {
  FS_OUTBOX,
  outboxArguments,
  outboxChangeKind,
  outboxPath,
  outboxWritten,
  previewOutbox,
  writeOutbox,
  type OutboxResult,
  type OutboxWrite,
} from '../connectors/fsOutbox';
import { renderDeep } from '../templates';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type ConnectorStep = Extract<RunbookStep, { type: 'connector' }>;

export async function connectorArguments(
  step: ConnectorStep,
  runtime: StepRuntime,
): Promise<Record<string, unknown>> {
  return (await renderDeep(step.with, runtime.scope)) as Record<string, unknown>;
}

export async function runConnector(step: ConnectorStep, runtime: StepRuntime): Promise<StepResult> {
  const args = await connectorArguments(step, runtime);
  return { output: await callConnector(runtime, `${runtime.runId}:${step.id}`, step.use, step.action, args) };
}

/** Calls a connector action through the runtime's exactly-once effect. */
export function callConnector(
  runtime: StepRuntime,
  key: string,
  connector: string,
  action: string,
  args: Record<string, unknown>,
): Promise<unknown> {
  if (connector === FS_OUTBOX && action === 'write') {
    const request = outboxArguments(args);
    return runtime.effect(
      key,
      connector,
      action,
      { ...request },
      () => writeOutboxByPolicy(runtime, key, request),
      () => previewOutbox(request),
    );
  }
  return Promise.reject(new StepFailedError(`${connector} has no action "${action}" (it has: write)`));
}

/**
 * An outbox write goes through the approvals policy like any file change: written at once when a
 * keel.yaml rule allows it (by default: a new file under outbox/), otherwise proposed to the
 * operator, and the run waits for the decision. A file already there with other content is a
 * modify, never overwritten without a rule or the operator.
 */
async function writeOutboxByPolicy(
  runtime: StepRuntime,
  key: string,
  request: OutboxWrite,
): Promise<OutboxResult> {
  const relative = outboxPath(request.path);
  const kind = await outboxChangeKind(runtime.workspace, request);
  const rule = runtime.policyRule(relative, kind);
  if (rule !== null && kind === 'create') {
    return { ...(await writeOutbox(runtime.workspace, request)), decision: 'policy', rule };
  }
  // `<stepId>[:<turn>:<call>]:outbox`: never the key of the effect around this one.
  const [, stepId = '', ...rest] = key.split(':');
  const outcome = await runtime.propose({
    key: [stepId, ...rest, 'outbox'].join(':'),
    stepId,
    changes: [{ path: relative, content: request.content }],
    summary: `Outbox: ${kind === 'create' ? 'write' : 'overwrite'} ${relative}`,
    reasoning:
      kind === 'create'
        ? `No approvals rule in keel.yaml lets agents create ${relative} without asking.`
        : `${relative} already exists with other content; the outbox changes it only when you decide.`,
  });
  if (outcome.decision === 'rejected') {
    throw new StepFailedError(
      `the operator rejected the outbox write of ${relative}: ${outcome.reason ?? 'no reason given'}`,
    );
  }
  if (outcome.decision === 'policy') {
    // A rule that allows modify applied the proposal: the file is written and committed.
    return { ...(await outboxWritten(runtime.workspace, relative, 'approved')), decision: 'policy', rule };
  }
  return outboxWritten(runtime.workspace, relative, outcome.decision);
}
