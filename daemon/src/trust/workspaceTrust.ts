/**
 * Whether the operator trusts this workspace, one model for the editor and the CLI. A workspace is
 * trusted once the operator consented to every endpoint it names (origin and key variable, for
 * models and for embeddings) and to its approvals policy (file rules, action rules, the lists they
 * test, MCP tool risks); a later change of any asks again. Triggers are consented one by
 * one: a new or edited trigger waits, unarmed, until the operator consents to it.
 */
import {
  DEFAULT_APPROVAL_RULES,
  EDITOR_RESTRICTED_ENV,
  type Runbook,
  type TrustEndpoint,
  type TrustState,
  type WorkspaceConfig,
} from '@keel/schemas';
import { NotTrusted, TrustChanged } from '../errors';
import type { Logger } from '../log';
import { describeRule } from '../approvals/policy';
import { readTrust, removeTrust, writeTrust, type TrustRecord } from './trustStore';
import { sameEndpoint, wantsHash, wantsOf, type Wants } from './wants';

/**
 * Keel's own defaults (new files under memory/working/ and outbox/) are what every workspace may
 * do without a keel.yaml, so a workspace that falls back to them is not asked about them again.
 */
const DEFAULT_RULES = new Set(DEFAULT_APPROVAL_RULES.map(describeRule));

export class WorkspaceTrust {
  private wants: Wants = { endpoints: [], triggers: [], rules: [] };
  private lastPublished = '';
  /** Started by an editor whose Workspace Trust has not trusted the folder: index and search only. */
  private readonly editorRestricted = process.env[EDITOR_RESTRICTED_ENV] === '1';

  private constructor(
    private readonly workspace: string,
    private readonly log: Logger,
    private record: TrustRecord | null,
    private readonly onChanged: (state: TrustState) => void,
  ) {}

  static async load(
    workspace: string,
    log: Logger,
    onChanged: (state: TrustState) => void = () => undefined,
  ): Promise<WorkspaceTrust> {
    const record = await readTrust(workspace, (message) => log.warn(message));
    return new WorkspaceTrust(workspace, log, record, onChanged);
  }

  /**
   * Every endpoint the workspace names was consented to: requests may go out, runs may run. Never
   * in an editor's Restricted Mode (KEEL_EDITOR_RESTRICTED=1), whatever the operator granted before.
   */
  get trusted(): boolean {
    const record = this.record;
    if (this.editorRestricted) return false;
    return (
      record !== null &&
      this.wants.endpoints.every((want) => this.consented(want)) &&
      this.wants.rules.every((rule) => DEFAULT_RULES.has(rule) || record.rules.includes(rule))
    );
  }

  /** Whether a request to this exact endpoint, with this key variable, was consented to. */
  allows(endpoint: TrustEndpoint): boolean {
    return this.trusted && this.consented(endpoint);
  }

  /** Whether this exact trigger definition may fire. */
  triggerAllowed(id: string): boolean {
    return this.trusted && (this.record?.triggers.includes(id) ?? false);
  }

  /**
   * The settings the memory plane may use: remote embeddings only to a consented endpoint, else
   * the local embedder (search keeps working; nothing is sent).
   */
  restrict(config: WorkspaceConfig): WorkspaceConfig {
    const wanted = wantsOf(config, []).endpoints.find((e) => e.purpose === 'embeddings');
    if (!wanted || this.allows(wanted)) return config;
    return { ...config, memory: { ...config.memory, embeddings: { provider: 'local' } } };
  }

  /**
   * Re-reads what the workspace wants (after keel.yaml or a runbook changed). `connectorEndpoints`:
   * the programs and URLs its connectors would start or call (an MCP server's command line).
   */
  update(
    config: WorkspaceConfig | null,
    runbooks: readonly Runbook[],
    connectorEndpoints: readonly TrustEndpoint[] = [],
  ): void {
    this.wants = wantsOf(config, runbooks, connectorEndpoints);
    this.publish();
  }

  state(): TrustState {
    const record = this.record;
    const triggers = this.wants.triggers.map((trigger) => ({
      ...trigger,
      consented: record?.triggers.includes(trigger.id) ?? false,
    }));
    return {
      trusted: this.trusted,
      workspace: this.workspace,
      endpoints: this.wants.endpoints,
      triggers,
      rules: this.wants.rules,
      wantsHash: wantsHash(this.wants),
      grantedAt: record?.grantedAt ?? null,
      summary: this.summary(triggers.filter((t) => !t.consented).length),
    };
  }

  /** Records consent to exactly what `hash` names; refused when the settings changed since. */
  async grant(hash: string): Promise<TrustState> {
    const state = this.state();
    if (hash !== state.wantsHash) {
      throw new TrustChanged(
        'The workspace settings changed since they were shown; review them again before trusting.',
        state,
      );
    }
    const record: TrustRecord = {
      version: 1,
      workspace: this.workspace,
      grantedAt: new Date().toISOString(),
      endpoints: this.wants.endpoints,
      triggers: this.wants.triggers.map((t) => t.id),
      rules: this.wants.rules,
    };
    await writeTrust(record);
    this.record = record;
    this.log.info('the operator trusted the workspace', {
      endpoints: record.endpoints.map((e) => `${e.purpose} ${e.origin}`).join(', ') || 'none',
      triggers: record.triggers.length,
    });
    this.publish();
    return this.state();
  }

  async revoke(): Promise<TrustState> {
    await removeTrust(this.workspace);
    this.record = null;
    this.log.info('the operator revoked trust in the workspace');
    this.publish();
    return this.state();
  }

  /** Refuses work that needs trust, with the state that says what the operator would allow. */
  require(what: string): void {
    if (this.trusted) return;
    const state = this.state();
    throw new NotTrusted(
      `${what} needs your trust in this workspace first: ${state.summary} ` +
        'Run "keel trust" in the workspace, or answer the prompt in the editor.',
      state,
    );
  }

  private consented(endpoint: TrustEndpoint): boolean {
    return this.record?.endpoints.some((granted) => sameEndpoint(granted, endpoint)) ?? false;
  }

  private summary(pendingTriggers: number): string {
    const sends = this.wants.endpoints.map(
      (e) => `${e.purpose} requests${e.apiKeyEnv ? ` with the key in ${e.apiKeyEnv}` : ''} to ${e.origin}`,
    );
    const wants = [
      ...sends,
      ...(this.wants.triggers.length > 0
        ? [`${this.wants.triggers.length} trigger(s) that start runs on their own`]
        : []),
    ];
    const what = wants.length > 0 ? `it would send ${wants.join('; ')}` : 'it names no endpoint';
    if (this.editorRestricted) return `The editor is in Restricted Mode: local search only; ${what}.`;
    if (!this.trusted) {
      return this.record
        ? `Trust is asked again because the workspace's endpoints or approvals policy changed: ${what}.`
        : `This workspace is not trusted yet (local search only): ${what}.`;
    }
    return pendingTriggers > 0
      ? `Trusted; ${pendingTriggers} new or edited trigger(s) wait for your consent before they fire.`
      : `Trusted: ${what}.`;
  }

  private publish(): void {
    const state = this.state();
    const key = JSON.stringify({ ...state, summary: '' });
    if (key === this.lastPublished) return;
    this.lastPublished = key;
    this.onChanged(state);
  }
}
