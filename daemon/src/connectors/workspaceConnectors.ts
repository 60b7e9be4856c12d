/**
 * The connectors of one workspace as runs see them: the instances keel.yaml declares (rebuilt
 * when it changes), the policy that decides their actions, and the context an action runs with,
 * whose credentials are redacted from the moment they are read, and which is only handed out for
 * an instance whose every endpoint the operator consented to.
 */
import type { ActionProposal, TrustEndpoint, WorkspaceConfig } from '@keel/schemas';
import { OperatorError } from '../errors';
import { decideAction, type ActionDecision } from './actionPolicy';
import { ConnectorSecrets, credentialResolver, knownCredentials } from './credentials';
import { FS_OUTBOX } from './fsOutbox';
import { ConnectorRegistry, describeIssues, findInstance, type ConnectorInstance } from './registry';
import { actionOf, type ActionContext } from './sdk';

/** What a run needs of the workspace's connectors (conductor/steps/connector.ts, agent tools). */
export interface ConnectorPort {
  /** The instance a runbook's `use:` names, or null. */
  find(use: string): ConnectorInstance | null;
  /** What a runbook may write in `use:` (for error messages). */
  names(): string[];
  /**
   * Makes the instance's `actions` known before they are read: a connector that discovers them
   * (an MCP server) lists them now, once; rejects when it cannot (untrusted, the server is down).
   */
  prepare(instance: ConnectorInstance, signal: AbortSignal): Promise<void>;
  /** `fromEvent`: the run was started by an event, so an `allow` rule needs `events: true`. */
  decide(instance: ConnectorInstance, action: string, input: unknown, fromEvent?: boolean): ActionDecision;
  context(instance: ConnectorInstance, idempotencyKey: string, signal: AbortSignal): ActionContext;
  /**
   * Why a live call of the instance is refused now (its breaker is open: its last drift probe
   * failed), or null. Optional: where no probe ever runs (a replay, a runbook test) nothing refuses.
   */
  refusal?(instance: ConnectorInstance): string | null;
  /**
   * The text with every credential in reach replaced by `[redacted]`: what a connector answered
   * or failed with, before it goes back to a model (a provider that echoes a token, an MCP
   * server's error quoting its headers). Journals and logs are redacted on their own.
   */
  scrub(text: string): string;
}

/** An instance whose servers the operator has not consented to (yet, or since keel.yaml changed). */
export class UntrustedConnectorError extends OperatorError {}

/** What knows each instance's breaker (ConnectorStatus): asked before every live call. */
export interface ProbeBreakers {
  refusal(instance: ConnectorInstance): string | null;
}

/** Trusts nothing: where no operator is asked (a replay, a runbook test), nothing is connected to. */
const NO_TRUST = { allows: (): boolean => false };

export class WorkspaceConnectors implements ConnectorPort {
  private instances: ConnectorInstance[] = [];
  private approvals: WorkspaceConfig['approvals'];

  constructor(
    private readonly options: {
      workspace: string;
      registry: ConnectorRegistry;
      secrets: ConnectorSecrets;
      env: NodeJS.ProcessEnv;
      /** Registers a value that must never be written (logs, journals). */
      redact: (value: string) => void;
      /** The operator's consent (WorkspaceTrust.allows): an instance's endpoints must each have it. */
      trust: { allows(endpoint: TrustEndpoint): boolean };
      /** The instances' breakers (drift probes); without it none refuses. */
      probes?: ProbeBreakers;
    },
    config: WorkspaceConfig,
  ) {
    this.approvals = config.approvals;
    this.configure(config);
  }

  /** keel.yaml changed: broken entries are left out (the config's diagnostics name them). */
  configure(config: WorkspaceConfig): void {
    this.instances = this.options.registry.instances(config).instances;
    this.approvals = config.approvals;
    for (const value of this.credentials()) this.options.redact(value);
  }

  /** Every credential value in reach now, for redaction. */
  credentials(): string[] {
    return knownCredentials(this.instances, this.options.secrets, this.options.env);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.credentials()) out = out.split(secret).join('[redacted]');
    return out;
  }

  list(): readonly ConnectorInstance[] {
    return this.instances;
  }

  find(use: string): ConnectorInstance | null {
    return findInstance(this.instances, use);
  }

  names(): string[] {
    return this.instances.map((i) => i.use);
  }

  decide(instance: ConnectorInstance, action: string, input: unknown, fromEvent = false): ActionDecision {
    const found = actionOf(instance.connector, action);
    if (!found) throw new Error(`${instance.name} has no action "${action}"`);
    return decideAction(
      instance.name,
      action,
      found.risk,
      input,
      this.approvals,
      instance.connector.id === FS_OUTBOX,
      found.policy?.bind(found),
      fromEvent,
    );
  }

  /**
   * Why an operator's edited review is not a valid input of the proposed action, or null: what
   * the run would refuse after the decision (conductor/steps/connector.ts), asked before it.
   */
  checkEdit(proposal: Pick<ActionProposal, 'connector' | 'action' | 'input'>, edited: string): string | null {
    const instance = this.instances.find((i) => i.name === proposal.connector);
    const action = instance ? actionOf(instance.connector, proposal.action) : null;
    // Not known here (keel.yaml changed, tools not listed yet): the run checks it when it resumes.
    if (!action) return null;
    const named = `${proposal.connector}.${proposal.action}`;
    if (!action.fromReview)
      return `${named} cannot be edited before approval (its connector reads no edited document)`;
    let input: unknown;
    try {
      input = action.fromReview(edited, proposal.input);
    } catch (error) {
      return `it is not a valid ${named}: ${error instanceof Error ? error.message : String(error)}`;
    }
    const parsed = action.input.safeParse(input);
    return parsed.success ? null : `it is not a valid ${named}: ${describeIssues(parsed.error)}`;
  }

  refusal(instance: ConnectorInstance): string | null {
    return this.options.probes?.refusal(instance) ?? null;
  }

  async prepare(instance: ConnectorInstance, signal: AbortSignal): Promise<void> {
    await instance.connector.prepare?.(this.probeContext(instance, signal));
  }

  context(instance: ConnectorInstance, idempotencyKey: string, signal: AbortSignal): ActionContext {
    return { ...this.probeContext(instance, signal), idempotencyKey };
  }

  /**
   * What a probe or a listing of actions runs with: no idempotency key, credentials redacted.
   * Refused (before any credential is read) unless the operator consented to every endpoint of
   * the instance: a keel.yaml edited after trust cannot send a credential anywhere new, even in
   * the moment before the trust change halts the runs under way.
   */
  probeContext(instance: ConnectorInstance, signal: AbortSignal): Omit<ActionContext, 'idempotencyKey'> {
    return connectorContext(instance, this.options, signal);
  }
}

/** What connectorContext needs of the daemon: the workspace, the operator's consent, the credentials. */
export interface ConnectorContextDeps {
  workspace: string;
  secrets: ConnectorSecrets;
  env: NodeJS.ProcessEnv;
  redact: (value: string) => void;
  trust: { allows(endpoint: TrustEndpoint): boolean };
}

/** The first endpoint of the instance the operator has not consented to, or null. */
export function untrustedEndpoint(
  instance: ConnectorInstance,
  trust: ConnectorContextDeps['trust'],
): TrustEndpoint | null {
  return instance.endpoints.find((endpoint) => !trust.allows(endpoint)) ?? null;
}

/**
 * The context a probe, a listing of actions or an action runs with (see probeContext): refused,
 * before any credential is read, unless the operator consented to every endpoint of the instance.
 */
export function connectorContext(
  instance: ConnectorInstance,
  deps: ConnectorContextDeps,
  signal: AbortSignal,
): Omit<ActionContext, 'idempotencyKey'> {
  const refused = untrustedEndpoint(instance, deps.trust);
  if (refused) {
    throw new UntrustedConnectorError(
      `Keel does not connect the connector "${instance.name}" (${instance.connector.id}) to ${refused.origin}: ` +
        'the operator has not trusted this workspace with it. Review it with "keel trust" or in ' +
        "the editor's Keel trust prompt.",
    );
  }
  return {
    workspace: deps.workspace,
    credential: credentialResolver(instance, deps.secrets, deps.env, deps.redact),
    config: instance.config,
    signal,
  };
}

/** Where no workspace is configured (a replay, a runbook test): the built-ins, no credentials. */
export function builtInConnectors(workspace: string, config: WorkspaceConfig): WorkspaceConnectors {
  return new WorkspaceConnectors(
    {
      workspace,
      registry: new ConnectorRegistry(),
      secrets: new ConnectorSecrets(),
      env: {},
      redact: () => undefined,
      trust: NO_TRUST,
    },
    config,
  );
}
