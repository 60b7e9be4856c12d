/**
 * Where each connector instance keel.yaml names stands, for the sidebar and `keel connectors`:
 * trusted or not, its credentials in reach or not, its last probe, its last event. Probes run only
 * when asked (`check`) and only for instances whose every server the operator trusted: an untrusted
 * one is reported as `needs_trust` without anything being contacted or any credential read.
 */
import type { ConnectorInfo, ConnectorProbeInfo } from '@keel/schemas';
import { OperatorError } from '../errors';
import { credentialResolver, knownCredentials, MissingCredentialError } from './credentials';
import type { ConnectorInstance } from './registry';
import type { ProbeResult } from './sdk';
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
  probeTimeoutMs?: number;
}

interface StoredProbe {
  /** The settings the probe ran with: a keel.yaml edit of them makes it old news. */
  fingerprint: string;
  probe: ConnectorProbeInfo;
}

export class ConnectorStatus {
  private readonly probes = new Map<string, StoredProbe>();
  private events: LastEventProvider | null = null;
  private published: string | null = null;

  constructor(private readonly options: ConnectorStatusOptions) {}

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

  private async probe(instance: ConnectorInstance): Promise<void> {
    if (untrustedEndpoint(instance, this.options.trust) || this.missingCredential(instance)) return;
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
      const ctx = connectorContext(instance, this.options, controller.signal);
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
    this.probes.set(instance.name, {
      fingerprint: fingerprint(instance),
      probe: { ok: result.ok, detail: this.scrub(result.detail), at: result.checkedAt },
    });
  }

  private describe(instance: ConnectorInstance): ConnectorInfo {
    const stored = this.probes.get(instance.name);
    const lastProbe = stored && stored.fingerprint === fingerprint(instance) ? stored.probe : null;
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
