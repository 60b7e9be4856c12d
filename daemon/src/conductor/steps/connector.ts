/** `connector`: a side effect through a versioned adapter, once per run and step. */
import type { RunbookStep } from '@keel/schemas';
import { FS_OUTBOX, outboxArguments, previewOutbox, writeOutbox } from '../connectors/fsOutbox';
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
      () => writeOutbox(runtime.workspace, request),
      () => previewOutbox(request),
    );
  }
  return Promise.reject(new StepFailedError(`${connector} has no action "${action}" (it has: write)`));
}
