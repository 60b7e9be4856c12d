/**
 * Where each connector instance keel.yaml names stands, for the sidebar and `keel connectors`:
 * trusted or not, its credentials in reach or not, its last probe, its last event, its breaker.
 * Probes run when asked (`check`, or the schedule in probeSchedule.ts) and only for instances whose
 * every server the operator trusted: an untrusted one is reported as `needs_trust` without anything
 * being contacted or any credential read. A failed probe opens the instance's breaker (its actions
 * refuse, see `refusal`) until a probe passes; the results outlive a restart (probeRecords.ts).
 */
import type { BreakerState, ConnectorInfo } from '@keel/schemas';
import { OperatorError } from '../errors';
import { actionUses, type RunbookFile } from './actionUses';
import { credentialResolver, knownCredentials, MissingCredentialError } from './credentials';
import type { ConnectorInstance } from './registry';
import {
  MAX_DETAIL_CHARS,
  MAX_VERSION_CHARS,
  plainText,
  probeBreaker,
  probeRefusal,
  ProbeRecords,
  type ProbeRecord,
} from './probeRecords';
import type { ProbeContext, ProbeResult } from './sdk';
import { connectorContext, untrustedEndpoint, type ConnectorContextDeps } from './workspaceConnectors';

/**
 * What the event poller knows of an instance's event source: when it last brought something in,
 * and its last failure. The poller (another module) plugs in through `ConnectorStatus.useEvents`.
 */
export interface LastEventProvider {
  lastEvent(name: string): { at: string | null; error?: string } | null;
}

/** A `check` naming an instance keel.yaml does not have. */
export class UnknownConnectorError extends OperatorError {}

/** A probe that hangs (a server that accepts and never answers) is reported, not waited on forever. */
export const PROBE_TIMEOUT_MS = 30_000;

export interface ConnectorStatusOptions extends ConnectorContextDeps {
  /** The instances keel.yaml names now (the last valid keel.yaml). */
  instances: () => readonly ConnectorInstance[];
  /** Called with the whole list whenever some instance's standing changed. */
  onChanged: (connectors: ConnectorInfo[]) => void;
  /** Called when some instance's breaker opened or closed (governance shows it, alerts tell it). */
  onBreakersChanged?: () => void;
  /** Where `.keel/probes.json` is read from and written to; without it results stay in memory. */
  records?: ProbeRecords;
  probeTimeoutMs?: number;
  /**
   * The workspace's runbooks (those that parse): a probe checks that what they use of the instance
   * is still offered (an MCP server's tools and their arguments). Without it nothing is checked.
   */
  runbooks?: () => Promise<RunbookFile[]>;
}

export class ConnectorStatus {
  private records: ProbeRecords;
  /** Probes under way, by instance: a scheduled and a manual one never run side by side. */
  private readonly running = new Map<string, Promise<void>>();
  private events: LastEventProvider | null = null;
  private published: string | null = null;

  constructor(private readonly options: ConnectorStatusOptions) {
    this.records = options.records ?? ProbeRecords.inMemory();
  }

  /** Takes the records kept in `.keel/` (the daemon loads them before it serves). */
  useRecords(records: ProbeRecords): void {
    this.records = records;
    this.refresh();
    this.options.onBreakersChanged?.();
  }

  /** The instance's last probe under its current settings, or null. */
  lastProbe(instance: ConnectorInstance): ProbeRecord | null {
    return this.records.get(instance.name, fingerprint(instance));
  }

  /** Whether a probe of it would contact anything now (trusted, credentials in reach). */
  probeable(instance: ConnectorInstance): boolean {
    return !untrustedEndpoint(instance, this.options.trust) && !this.missingCredential(instance);
  }

  /**
   * Why an action of the instance must not run now (its breaker is open: its last probe failed),
   * or null. Asked before every live call; a replay never asks (nothing is called).
   */
  refusal(instance: ConnectorInstance): string | null {
    return probeRefusal(instance.name, instance.connector.id, this.lastProbe(instance));
  }

  /** Every configured instance's breaker, as governance lists breakers (`connector:<name>`). */
  breakers(): BreakerState[] {
    return this.configured()
      .filter((instance) => this.lastProbe(instance) !== null)
      .map((instance) => probeBreaker(instance.name, this.lastProbe(instance)));
  }

  /** The instances keel.yaml names (not the built-ins used bare), for the schedule. */
  instances(): ConnectorInstance[] {
    return this.configured();
  }

  /** Plugs in the event poller; its answers show from the next `list` or `refresh`. */
  useEvents(provider: LastEventProvider): void {
    this.events = provider;
    this.refresh();
  }

  /** Every instance keel.yaml names, as it stands now; contacts nothing. */
  list(): ConnectorInfo[] {
    return this.configured().map((instance) => this.describe(instance));
  }

  /**
   * Probes one instance (or all) now and answers with the new list. Untrusted instances and those
   * missing a credential are not probed: their state already says what the operator must do.
   */
  async check(name?: string): Promise<ConnectorInfo[]> {
    const instances = this.configured();
    const targets = name === undefined ? instances : instances.filter((i) => i.name === name);
    if (name !== undefined && targets.length === 0) {
      const names = instances.map((i) => i.name).join(', ') || 'none';
      throw new UnknownConnectorError(
        `keel.yaml names no connector "${name}" (it names: ${names}); see "keel connectors list"`,
      );
    }
    await Promise.all(targets.map((instance) => this.probe(instance)));
    this.refresh();
    return targets.map((instance) => this.describe(instance));
  }

  /** Tells clients if any standing changed (after trust, keel.yaml, a secret or an event changed). */
  refresh(): void {
    const connectors = this.list();
    const text = JSON.stringify(connectors);
    if (text === this.published) return;
    this.published = text;
    this.options.onChanged(connectors);
  }

  /** keel.yaml's own entries: built-ins used under their bare names are not "configured". */
  private configured(): ConnectorInstance[] {
    return this.options.instances().filter((instance) => instance.use === instance.name);
  }

  /** Probes one instance unless a probe of it is under way already (then waits for that one). */
  probe(instance: ConnectorInstance): Promise<void> {
    const under = this.running.get(instance.name);
    if (under) return under;
    const running = this.probeNow(instance).finally(() => this.running.delete(instance.name));
    this.running.set(instance.name, running);
    return running;
  }

  /** Resolves once every probe under way has finished (the daemon stops). */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()].map((p) => p.catch(() => undefined)));
  }

  private async probeNow(instance: ConnectorInstance): Promise<void> {
    if (!this.probeable(instance)) return;
    const controller = new AbortController();
    const limit = this.options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({
          ok: false,
          detail: `no answer within ${limit / 1000} s`,
          checkedAt: new Date().toISOString(),
        });
      }, limit);
    });
    let result: ProbeResult;
    try {
      const runbooks = this.options.runbooks;
      const ctx: ProbeContext = {
        ...connectorContext(instance, this.options, controller.signal),
        ...(runbooks ? { uses: async () => actionUses(await runbooks(), instance.name) } : {}),
      };
      result = await Promise.race([instance.connector.probe(ctx), timedOut]);
    } catch (error) {
      result = {
        ok: false,
        detail: error instanceof Error ? error.message : String(error),
        checkedAt: new Date().toISOString(),
      };
    } finally {
      clearTimeout(timer);
    }
    const wasOpen = this.refusal(instance) !== null;
    const version = result.version ? plainText(this.scrub(result.version), MAX_VERSION_CHARS) : '';
    await this.records.record(instance.name, fingerprint(instance), {
      ok: result.ok,
      detail: plainText(this.scrub(result.detail), MAX_DETAIL_CHARS),
      at: result.checkedAt,
      ...(version ? { version } : {}),
    });
    if (wasOpen !== !result.ok) this.options.onBreakersChanged?.();
  }

  private describe(instance: ConnectorInstance): ConnectorInfo {
    const lastProbe = this.lastProbe(instance)?.probe ?? null;
    const event = this.events?.lastEvent(instance.name) ?? null;
    const base = {
      name: instance.name,
      use: instance.connector.id,
      credentials: Object.entries(instance.credentials).map(([name, source]) => ({
        name,
        from: 'env' in source ? ('env' as const) : ('secret' as const),
      })),
      actions: Object.entries(instance.connector.actions).map(([name, action]) => ({
        name,
        risk: action.risk,
      })),
      events: Object.keys(instance.connector.events),
      lastProbe,
      breaker: lastProbe && !lastProbe.ok ? ('open' as const) : ('closed' as const),
      lastEventAt: event?.at ?? null,
    };
    const refused = untrustedEndpoint(instance, this.options.trust);
    if (refused) {
      return {
        ...base,
        state: 'needs_trust',
        credential: null,
        lastError: `not trusted: Keel contacts nothing of it until you trust ${refused.origin} ("keel trust", or the editor's Keel trust prompt)`,
      };
    }
    const missing = this.missingCredential(instance);
    if (missing)
      return { ...base, state: 'needs_credential', credential: missing.name, lastError: missing.message };
    const eventError = event?.error ? this.scrub(event.error) : null;
    const probeError = lastProbe && !lastProbe.ok ? lastProbe.detail : null;
    return {
      ...base,
      state: probeError || eventError ? 'error' : lastProbe ? 'ready' : 'unchecked',
      credential: null,
      lastError: eventError ?? probeError,
    };
  }

  /** The first credential keel.yaml names that is unset or too short, with the fix in words. */
  private missingCredential(instance: ConnectorInstance): { name: string; message: string } | null {
    const resolve = credentialResolver(instance, this.options.secrets, this.options.env, this.options.redact);
    for (const name of Object.keys(instance.credentials)) {
      try {
        resolve(name);
      } catch (error) {
        if (error instanceof MissingCredentialError) return { name, message: error.message };
        throw error;
      }
    }
    return null;
  }

  /** Cuts every credential in reach out of a text a server or library wrote. */
  private scrub(text: string): string {
    const values = knownCredentials(this.options.instances(), this.options.secrets, this.options.env);
    let out = text;
    for (const value of values) out = out.split(value).join('[redacted]');
    return out;
  }
}

function fingerprint(instance: ConnectorInstance): string {
  return JSON.stringify([instance.connector.id, instance.config, instance.credentials]);
}
