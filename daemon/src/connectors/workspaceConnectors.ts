/**
 * The connectors of one workspace as runs see them: the instances keel.yaml declares (rebuilt
 * when it changes), the policy that decides their actions, and the context an action runs with,
 * whose credentials are redacted from the moment they are read.
 */
import type { WorkspaceConfig } from '@keel/schemas';
import { decideAction, type ActionDecision } from './actionPolicy';
import { ConnectorSecrets, credentialResolver, knownCredentials } from './credentials';
import { ConnectorRegistry, findInstance, type ConnectorInstance } from './registry';
import type { ActionContext } from './sdk';

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
  decide(instance: ConnectorInstance, action: string, input: unknown): ActionDecision;
  context(instance: ConnectorInstance, idempotencyKey: string, signal: AbortSignal): ActionContext;
}

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

  list(): readonly ConnectorInstance[] {
    return this.instances;
  }

  find(use: string): ConnectorInstance | null {
    return findInstance(this.instances, use);
  }

  names(): string[] {
    return this.instances.map((i) => i.use);
  }

  decide(instance: ConnectorInstance, action: string, input: unknown): ActionDecision {
    return decideAction(
      instance.name,
      action,
      instance.connector.actions[action]!.risk,
      input,
      this.approvals,
    );
  }

  async prepare(instance: ConnectorInstance, signal: AbortSignal): Promise<void> {
    await instance.connector.prepare?.(this.probeContext(instance, signal));
  }

  context(instance: ConnectorInstance, idempotencyKey: string, signal: AbortSignal): ActionContext {
    return { ...this.probeContext(instance, signal), idempotencyKey };
  }

  /** What a probe or a listing of actions runs with: no idempotency key, credentials redacted. */
  probeContext(instance: ConnectorInstance, signal: AbortSignal): Omit<ActionContext, 'idempotencyKey'> {
    return {
      workspace: this.options.workspace,
      credential: credentialResolver(instance, this.options.secrets, this.options.env, this.options.redact),
      config: instance.config,
      signal,
    };
  }
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
    },
    config,
  );
}
