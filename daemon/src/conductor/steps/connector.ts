/**
 * `connector`: a side effect through a versioned adapter, once per run and step. Every call goes
 * the same way, from a runbook step or an agent's tool: the connector named by `use:` (keel.yaml
 * or a built-in), its action's input schema, the approvals policy (keel.yaml's action rules, else
 * the action's risk), the exactly-once effect of the journal, then the output schema.
 */
import type { RunbookStep } from '@keel/schemas';
import type { ActionDecision } from '../../connectors/actionPolicy';
import {
  FS_OUTBOX,
  outboxChangeKind,
  outboxPath,
  outboxWritten,
  previewOutbox,
  writeOutbox,
  type OutboxResult,
  type OutboxWrite,
} from '../../connectors/fsOutbox';
import { describeIssues, type ConnectorInstance } from '../../connectors/registry';
import { actionOf, type ConnectorAction } from '../../connectors/sdk';
import { renderDeep } from '../templates';
import { performOnce } from './actionOnce';
import { storeInto } from './into';
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
  const output = await callConnector(runtime, `${runtime.runId}:${step.id}`, step.use, step.action, args);
  if (step.into) await storeInto(step.id, step.into, output, runtime);
  return { output };
}

/**
 * The instance and action a `use:` and an action name mean, or a failure saying what exists. A
 * connector that discovers its actions (an MCP server) lists them first, once.
 */
export async function resolveAction(
  runtime: Pick<StepRuntime, 'connectors' | 'signal'>,
  use: string,
  actionName: string,
): Promise<{ instance: ConnectorInstance; action: ConnectorAction }> {
  const instance = runtime.connectors.find(use);
  if (!instance) {
    throw new StepFailedError(
      `no connector "${use}": runbooks use a connector named under "connectors:" in keel.yaml, or a built-in ` +
        `(available: ${runtime.connectors.names().join(', ') || 'none'}); add "connectors: { <name>: { use: <connector@version> } }" to keel.yaml`,
      false,
    );
  }
  await runtime.connectors.prepare(instance, runtime.signal).catch((error: unknown) => {
    // Retryable: a server that would not start may start on the step's next attempt.
    throw new StepFailedError(
      `${use} cannot list its actions: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  const action = actionOf(instance.connector, actionName);
  if (!action) {
    throw new StepFailedError(
      `${use} has no action "${actionName}" (it has: ${Object.keys(instance.connector.actions).join(', ')})`,
      false,
    );
  }
  return { instance, action };
}

/** What a call is, besides its action and arguments. */
export interface CallAbout {
  /** Set for compensation: the key of the action this call undoes. */
  undoes?: string;
  /** An agent's words in the turn it chose the call, shown with the proposal when it asks. */
  reasoning?: string;
}

/**
 * Calls a connector action through the runtime's exactly-once effect. Lazily: the connector is
 * resolved, prepared (an MCP server started to list its tools) and the arguments checked only
 * when the action is really performed or previewed, so a call the journal already answers (a
 * resume, a replay) never starts or contacts the connector.
 */
export async function callConnector(
  runtime: StepRuntime,
  key: string,
  use: string,
  actionName: string,
  args: Record<string, unknown>,
  about: CallAbout = {},
): Promise<unknown> {
  // What `use:` means, as the effect record names it; found without contacting anything.
  const named = runtime.connectors.find(use)?.use ?? use;
  return runtime.effect(
    key,
    named,
    actionName,
    { ...args },
    async () => {
      try {
        const { instance, action, input } = await checkedCall(runtime, use, actionName, args);
        return scrubbed(
          runtime,
          await performByPolicy(runtime, key, instance, actionName, action, input, about),
        );
      } catch (error) {
        throw scrubbedError(runtime, error);
      }
    },
    () => previewCall(runtime, use, actionName, args),
  );
}

/**
 * A connector's answer with every credential in reach replaced by `[redacted]`, before it is
 * journaled and read by anything after it: a later step's template (`{{ steps.x.output }}`) puts
 * it in a prompt, and an MCP server or a mail body may quote a token.
 */
function scrubbed(runtime: StepRuntime, value: unknown): unknown {
  if (typeof value === 'string') return runtime.connectors.scrub(value);
  if (Array.isArray(value)) return value.map((item) => scrubbed(runtime, item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubbed(runtime, item)]));
  }
  return value;
}

/** The same error (its class says what the conductor does next) with its message scrubbed. */
function scrubbedError(runtime: StepRuntime, error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const message = runtime.connectors.scrub(error.message);
  if (message !== error.message) error.message = message;
  return error;
}

/** The instance, the action and the arguments as its input schema gives them back. */
async function checkedCall(
  runtime: StepRuntime,
  use: string,
  actionName: string,
  args: Record<string, unknown>,
): Promise<{ instance: ConnectorInstance; action: ConnectorAction; input: unknown }> {
  const { instance, action } = await resolveAction(runtime, use, actionName);
  const parsed = action.input.safeParse(args);
  if (!parsed.success) {
    throw new StepFailedError(
      `${use} ${actionName}: the arguments do not fit the action: ${describeIssues(parsed.error)}`,
      false,
    );
  }
  return { instance, action, input: parsed.data };
}

/**
 * What a runbook test sees instead of the action: the outbox's result, or the call itself with
 * its arguments (what its expectations check). A connector that discovers its actions (an MCP
 * server) is not started for a test: its call is captured with the arguments as written, which
 * the server checks when the call is made for real.
 */
async function previewCall(
  runtime: StepRuntime,
  use: string,
  actionName: string,
  args: Record<string, unknown>,
): Promise<unknown> {
  const found = runtime.connectors.find(use);
  if (found?.connector.prepare) {
    return { captured: true, action: `${found.name}.${actionName}`, input: { ...args } };
  }
  const { instance, input } = await checkedCall(runtime, use, actionName, args);
  if (instance.connector.id === FS_OUTBOX) return previewOutbox(input as OutboxWrite);
  return { captured: true, action: `${instance.name}.${actionName}`, input };
}

/**
 * Who decides, then the action: `deny` fails the step, `ask` waits for the operator (an action
 * proposal, whose edited document becomes the input), `files` leaves an outbox write to the file
 * rules; what may run is performed under a journaled intent (actionOnce.ts), a `read` at once.
 */
async function performByPolicy(
  runtime: StepRuntime,
  key: string,
  instance: ConnectorInstance,
  actionName: string,
  action: ConnectorAction,
  input: unknown,
  about: CallAbout,
): Promise<unknown> {
  const named = `${instance.name}.${actionName}`;
  const decision = runtime.connectors.decide(instance, actionName, input, runtime.fromEvent);
  if (decision.decide === 'deny') {
    throw new StepFailedError(
      `keel.yaml does not allow ${named} here (approvals.actions: "${decision.rule}")`,
      false,
    );
  }
  if (decision.decide === 'files' && instance.connector.id === FS_OUTBOX) {
    return checkedOutput(named, action, await writeOutboxByPolicy(runtime, key, input as OutboxWrite));
  }
  // An open breaker (a failed drift probe) refuses before the operator is asked, and again after
  // (the probe may have failed while the proposal waited): the step fails at once, never hangs.
  refuseIfOpen(runtime, instance);
  const final =
    decision.decide === 'ask'
      ? await askOperator(runtime, key, instance, actionName, action, input, decision, about.reasoning)
      : input;
  refuseIfOpen(runtime, instance);
  const ctx = runtime.connectors.context(instance, key, runtime.signal);
  if (action.risk === 'read') return checkedOutput(named, action, await action.perform(final, ctx));
  const { undoes } = about;
  const call = { key, instance, actionName, action, input: final, ...(undoes ? { undoes } : {}) };
  return checkedOutput(named, action, await performOnce(runtime, call, ctx));
}

/** Fails the step, naming the failed probe and how to retry, while the instance's breaker is open. */
function refuseIfOpen(runtime: StepRuntime, instance: ConnectorInstance): void {
  const refusal = runtime.connectors.refusal?.(instance) ?? null;
  if (refusal) throw new StepFailedError(refusal);
}

/** Waits for the operator's decision on an action proposal; resolves with the input to run. */
async function askOperator(
  runtime: StepRuntime,
  key: string,
  instance: ConnectorInstance,
  actionName: string,
  action: ConnectorAction,
  input: unknown,
  decision: ActionDecision,
  stated: string | undefined,
): Promise<unknown> {
  const named = `${instance.name}.${actionName}`;
  const review = action.review(input);
  // `<stepId>[:<turn>:<call>]:action`: never the key of the effect around this one.
  const [, stepId = '', ...rest] = key.split(':');
  const outcome = await runtime.propose({
    key: [stepId, ...rest, 'action'].join(':'),
    stepId,
    changes: [],
    summary: `${named}: ${review.title}`,
    reasoning: [
      `Waits for your decision: ${decision.rule}.`,
      ...(stated?.trim() ? ['', `What the agent said when it chose this: ${stated.trim()}`] : []),
    ].join('\n'),
    action: {
      connector: instance.name,
      use: instance.connector.id,
      action: actionName,
      risk: action.risk,
      input,
      review,
      rule: decision.rule,
    },
  });
  if (outcome.decision === 'rejected') {
    throw new StepFailedError(
      `the operator rejected ${named}: ${outcome.reason ?? 'no reason given'}`,
      false,
    );
  }
  if (outcome.edited === undefined) return input;
  if (!action.fromReview) {
    throw new StepFailedError(
      `${named} cannot be edited before approval (its connector reads no edited document)`,
      false,
    );
  }
  const edited = action.input.safeParse(action.fromReview(outcome.edited, input));
  if (!edited.success) {
    throw new StepFailedError(
      `the edited ${review.title} is not a valid ${named}: ${describeIssues(edited.error)}`,
      false,
    );
  }
  return edited.data;
}

/** The action's answer, checked: a connector that answers outside its own schema is a bug to report. */
function checkedOutput(named: string, action: ConnectorAction, output: unknown): unknown {
  const parsed = action.output.safeParse(output);
  if (!parsed.success) {
    throw new StepFailedError(
      `${named} happened, but answered outside its output schema (a connector bug; do not retry blindly): ${describeIssues(parsed.error)}`,
      false,
    );
  }
  return parsed.data;
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
