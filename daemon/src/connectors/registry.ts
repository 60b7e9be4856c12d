/**
 * Which connectors exist and which this workspace uses. The list of connectors is closed: the
 * built-ins below (a connector is code Keel ships and reviews, never one a workspace brings).
 * keel.yaml's `connectors:` names instances of them (`email: { use: email@1, ... }`), each with
 * its settings checked by the connector's `configSchema`; a built-in that needs no settings can be
 * used without an entry, under its bare name (`fs.outbox@1` is `fs.outbox` in rules).
 */
import type { ConnectorConfig, CredentialSource, TrustEndpoint, WorkspaceConfig } from '@keel/schemas';
import { z } from 'zod';
import { createLogger } from '../log';
import { fsOutbox } from './fsOutbox';
import { checkMcpConfig, credentialNames, isMcpUse, mcpTrustEndpoint } from './mcp/mcpConfig';
import type { McpHost } from './mcp/mcpConnector';
import { McpServers } from './mcp/mcpServers';
import type { Connector, ConnectorAction } from './sdk';

/**
 * A connector Keel ships, known by its id before its code is loaded: `load` brings in the
 * connector's modules (their settings' and actions' schemas and the libraries' wrappers) the first
 * time something asks for it, so a `keel` command or a daemon whose workspace uses none of email,
 * calendar, billing or HTTP does not build them (`keel --version` 271 -> 252 ms; issue 14).
 */
export interface BuiltInConnector {
  id: string;
  /**
   * Whether it needs a keel.yaml entry (credentials, or settings without defaults); without, it is
   * offered under its bare name. What `needsEntry()` says of the loaded connector (a test checks).
   */
  needsEntry: boolean;
  /** The events it emits (its `events`' names; a test checks). */
  events: readonly string[];
  load(): Connector;
}

/* eslint-disable @typescript-eslint/no-require-imports -- bundled, loaded late (issue 14) */
/** The connectors Keel ships, by id. */
export const BUILT_IN_CONNECTORS: readonly BuiltInConnector[] = [
  { id: fsOutbox.id, needsEntry: false, events: [], load: () => fsOutbox },
  {
    id: 'email@1',
    needsEntry: true,
    events: ['email.received'],
    load: () => (require('./email') as typeof import('./email')).emailConnector,
  },
  {
    id: 'calendar@1',
    needsEntry: true,
    events: ['calendar.upcoming'],
    load: () => (require('./calendar') as typeof import('./calendar')).calendarConnector,
  },
  {
    id: 'http@1',
    needsEntry: true,
    events: ['http.webhook'],
    load: () => (require('./http') as typeof import('./http')).httpConnector,
  },
  {
    id: 'billing@1',
    needsEntry: true,
    events: ['invoice.paid', 'invoice.payment_failed', 'invoice.overdue', 'charge.dispute.created'],
    load: () => (require('./billing') as typeof import('./billing')).billingConnector,
  },
];
/* eslint-enable @typescript-eslint/no-require-imports */

/** The built-ins loaded so far, by id: one load per process, whichever registry asked. */
const loadedBuiltIns = new Map<string, Connector>();

function loadBuiltIn(builtIn: BuiltInConnector): Connector {
  let connector = loadedBuiltIns.get(builtIn.id);
  if (!connector) {
    connector = builtIn.load();
    loadedBuiltIns.set(builtIn.id, connector);
  }
  return connector;
}

/**
 * Hands the registry built-ins loaded already. For the tests: vitest runs the TypeScript sources
 * as ES modules, where `load`'s `require` cannot reach them (test/helpers/builtInConnectors.ts).
 */
export function useLoadedBuiltIns(connectors: readonly Connector[]): void {
  for (const connector of connectors) loadedBuiltIns.set(connector.id, connector);
}

/** The payload schema of a built-in connector's event, its connector loaded for it. */
export function builtInEventPayload(event: string): z.ZodType | undefined {
  const builtIn = BUILT_IN_CONNECTORS.find((c) => c.events.includes(event));
  return builtIn ? loadBuiltIn(builtIn).events[event]?.payload : undefined;
}

/** A connector as runbooks and rules name it: a keel.yaml entry, or a built-in used as is. */
export interface ConnectorInstance {
  /** `email` (keel.yaml's name), or `fs.outbox` for a built-in used without an entry. */
  name: string;
  /** What a runbook's `use:` says: the keel.yaml name, or the built-in's id. */
  use: string;
  connector: Connector;
  /** The settings, as the connector's `configSchema` gave them back. */
  config: Record<string, unknown>;
  /** Where each credential comes from. */
  credentials: Record<string, CredentialSource>;
  /**
   * What this instance connects to, each consented to by the operator before anything of it runs
   * (an email account's servers, an MCP server's command line); empty for one that stays local.
   */
  endpoints: TrustEndpoint[];
  /** keel.yaml's `probeMinutes` (the host's drift-probe interval); absent: the default. */
  probeMinutes?: number;
}

/** A problem with keel.yaml's `connectors:`, at a path inside the file. */
export interface ConnectorConfigIssue {
  path: (string | number)[];
  message: string;
}

export class ConnectorRegistry {
  /** A test's own connectors as they are; the built-ins loaded at their first use. */
  private readonly byId: Map<string, Connector | BuiltInConnector>;
  /** keel.yaml's MCP servers (`use: mcp`), one connector each, kept across calls to `instances`. */
  private readonly mcp: McpServers;

  /**
   * @param connectors the closed list; tests add their own next to the built-ins
   * @param options.mcp the daemon's log and trust, for MCP servers; without it none ever starts
   */
  constructor(
    connectors: readonly (Connector | BuiltInConnector)[] = BUILT_IN_CONNECTORS,
    options: { mcp?: McpHost } = {},
  ) {
    this.byId = new Map(connectors.map((c) => [c.id, c]));
    this.mcp = options.mcp
      ? new McpServers(options.mcp)
      : McpServers.untrusted(createLogger({ level: 'error', write: () => undefined }));
  }

  get(id: string): Connector | undefined {
    const held = this.byId.get(id);
    return held && 'load' in held ? loadBuiltIn(held) : held;
  }

  /** The connectors' ids (none is loaded for it). */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  /**
   * The instances keel.yaml declares, then each built-in that needs no settings under its bare
   * name and its id; a broken entry is left out and named in `issues`.
   */
  instances(config: WorkspaceConfig): { instances: ConnectorInstance[]; issues: ConnectorConfigIssue[] } {
    const instances: ConnectorInstance[] = [];
    const issues: ConnectorConfigIssue[] = [];
    const servers = new Set<string>();
    for (const [name, entry] of Object.entries(config.connectors)) {
      const mcp = isMcpUse(entry.use);
      const made = mcp ? this.mcpInstance(name, entry) : this.instance(name, entry);
      if ('issues' in made) issues.push(...made.issues);
      else instances.push(made);
      if (mcp && !('issues' in made)) servers.add(name);
    }
    // keel.yaml is read whole each time: a server it no longer names (or names wrongly) stops.
    this.mcp.retain(servers);
    for (const [id, held] of this.byId) {
      const bare = bareName(id);
      if (instances.some((i) => i.name === bare)) continue;
      if ('load' in held ? held.needsEntry : needsEntry(held)) continue;
      const connector = this.get(id)!;
      const endpoints = connector.trustEndpoints?.({}, {}) ?? [];
      instances.push({ name: bare, use: connector.id, connector, config: {}, credentials: {}, endpoints });
    }
    return { instances, issues };
  }

  private instance(
    name: string,
    entry: ConnectorConfig,
  ): ConnectorInstance | { issues: ConnectorConfigIssue[] } {
    const at = (path: (string | number)[]): (string | number)[] => ['connectors', name, ...path];
    const connector = this.get(entry.use);
    if (!connector) {
      const known = this.ids().join(', ');
      return { issues: [{ path: at(['use']), message: `no connector "${entry.use}"; Keel has: ${known}` }] };
    }
    // `pollSeconds` and `probeMinutes` are the host's (how often it polls, probes), not the connector's.
    const { use: _use, credentials, pollSeconds: _poll, probeMinutes, ...settings } = entry;
    const issues: ConnectorConfigIssue[] = [];
    const parsed = connector.configSchema.safeParse(settings);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        issues.push({
          path: at(issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))),
          message: `${connector.id}: ${issue.message}`,
        });
      }
    }
    issues.push(
      ...credentialIssues(
        connector.id,
        connector.credentials,
        credentials,
        at,
        connector.optionalCredentials,
      ),
    );
    if (issues.length > 0) return { issues };
    const config = parsed.data ?? {};
    const endpoints = connector.trustEndpoints?.(config, credentials) ?? [];
    return {
      name,
      use: name,
      connector,
      config,
      credentials,
      endpoints,
      ...(probeMinutes !== undefined ? { probeMinutes } : {}),
    };
  }

  /** An MCP server's entry: its settings as mcpConfig.ts checks them, its server kept running across calls. */
  private mcpInstance(
    name: string,
    entry: ConnectorConfig,
  ): ConnectorInstance | { issues: ConnectorConfigIssue[] } {
    const at = (path: (string | number)[]): (string | number)[] => ['connectors', name, ...path];
    const { credentials, pollSeconds: _poll, probeMinutes, ...settings } = entry;
    const checked = checkMcpConfig(settings);
    if ('issues' in checked) {
      return {
        issues: checked.issues.map((issue) => ({ path: at(issue.path), message: `mcp: ${issue.message}` })),
      };
    }
    const issues = credentialIssues(`mcp.${name}@1`, credentialNames(checked.config), credentials, at);
    if (issues.length > 0) return { issues };
    const connector = this.mcp.connector(name, checked.config, credentials);
    return {
      name,
      use: name,
      connector,
      config: checked.config,
      credentials,
      endpoints: [connector.endpoint],
      ...(probeMinutes !== undefined ? { probeMinutes } : {}),
    };
  }

  /**
   * What keel.yaml's connectors would start, call or send credentials to, for the operator's
   * consent: each MCP server's command line or URL, each email account's servers; for every entry
   * whose settings read right, whether or not the rest of it (its credentials) is right yet.
   */
  trustEndpoints(config: WorkspaceConfig): TrustEndpoint[] {
    return Object.entries(config.connectors).flatMap(([name, entry]) => {
      const { use, credentials, pollSeconds: _poll, probeMinutes: _probe, ...settings } = entry;
      if (isMcpUse(use)) {
        const checked = checkMcpConfig({ use, ...settings });
        return 'config' in checked ? [mcpTrustEndpoint(name, checked.config, credentials)] : [];
      }
      const connector = this.get(use);
      if (!connector?.trustEndpoints) return [];
      const parsed = connector.configSchema.safeParse(settings);
      return parsed.success ? connector.trustEndpoints(parsed.data, credentials) : [];
    });
  }

  /**
   * Stops the MCP servers the operator's trust no longer covers; with `all`, every one (keel.yaml
   * was deleted or no longer reads right, so nothing it names should keep running).
   */
  closeUntrustedServers(all = false): void {
    if (all) this.mcp.retain(new Set());
    else this.mcp.closeUntrusted();
  }

  /** Stops every MCP server this registry started (the daemon stops). */
  close(): Promise<void> {
    return this.mcp.close();
  }
}

/** Each credential a connector needs must be named in keel.yaml (unless optional), and only those. */
function credentialIssues(
  id: string,
  needed: readonly string[],
  credentials: Record<string, CredentialSource>,
  at: (path: (string | number)[]) => (string | number)[],
  optional: readonly string[] = [],
): ConnectorConfigIssue[] {
  const issues: ConnectorConfigIssue[] = [];
  for (const name of needed) {
    if (!(name in credentials) && !optional.includes(name)) {
      issues.push({
        path: at(['credentials']),
        message: `${id} needs the credential "${name}": add "credentials: { ${name}: { env: VARIABLE } }" (or { secret: true } for the editor's secret storage)`,
      });
    }
  }
  for (const named of Object.keys(credentials)) {
    if (!needed.includes(named)) {
      issues.push({
        path: at(['credentials', named]),
        message: `${id} has no credential "${named}" (it uses: ${needed.join(', ') || 'none'})`,
      });
    }
  }
  return issues;
}

/**
 * Whether a connector works only with a keel.yaml entry: it needs credentials, or settings that
 * have no defaults (billing@1's settings all have defaults, but it cannot run without its secret
 * key). Credentials first: checking the settings' defaults can be dear (calendar@1's time zone
 * check loads the system's zone data).
 */
export function needsEntry(connector: Connector): boolean {
  return connector.credentials.length > 0 || !connector.configSchema.safeParse({}).success;
}

/** `fs.outbox@1` → `fs.outbox`. */
export function bareName(id: string): string {
  return id.replace(/@[0-9]+$/, '');
}

/**
 * What runbooks may write in `use:`: each instance's name as written in keel.yaml, and built-in
 * ids; a built-in used without an entry also by its bare name, as rules and tools write it
 * (`fs.outbox`, so the tool `fs.outbox.write` resolves).
 */
export function findInstance(instances: readonly ConnectorInstance[], use: string): ConnectorInstance | null {
  return (
    instances.find((i) => i.use === use || (i.name === bareName(use) && i.connector.id === use)) ??
    instances.find((i) => i.use === i.connector.id && i.name === use) ??
    null
  );
}

/** The input schema as JSON Schema (draft 7, as a user writes it), for tools and the editor. */
export function inputJsonSchema(action: ConnectorAction): Record<string, unknown> {
  const { $schema: _schema, ...schema } = z.toJSONSchema(action.input, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return schema;
}

/** A zod error as one sentence listing each field and what is wrong with it. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the value'}: ${issue.message}`)
    .join('; ');
}
