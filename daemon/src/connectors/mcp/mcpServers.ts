/**
 * The MCP servers of one workspace, one connector (and so at most one process) per keel.yaml
 * entry: the registry is asked for its instances many times (each keel.yaml load, the editor, the
 * conductor), and each time gets the connector it already made for the same settings. An entry
 * whose settings change, or that keel.yaml drops, has its server closed; the daemon closes the
 * rest when it stops.
 */
import type { CredentialSource } from '@keel/schemas';
import type { Logger } from '../../log';
import type { McpServerConfig } from './mcpConfig';
import { mcpConnector, type McpConnector, type McpHost } from './mcpConnector';

/** Where no daemon hands over its trust (a runbook test, a bare registry): nothing ever starts. */
const NO_TRUST: McpHost['trust'] = { allows: () => false };

export class McpServers {
  private readonly servers = new Map<string, { key: string; connector: McpConnector }>();

  constructor(private readonly host: McpHost) {}

  /** A registry that never starts a server: its MCP entries are checked, never run. */
  static untrusted(log: Logger): McpServers {
    return new McpServers({ log, trust: NO_TRUST });
  }

  /**
   * The connector for keel.yaml's `name` with these settings: the one already made for them, or a
   * new one (the connector made for the entry's old settings is closed).
   */
  connector(
    name: string,
    config: McpServerConfig,
    credentials: Record<string, CredentialSource>,
  ): McpConnector {
    const key = stableJson({ config, credentials });
    const known = this.servers.get(name);
    if (known?.key === key) return known.connector;
    if (known) this.closeQuietly(name, known.connector, 'its keel.yaml entry changed');
    const connector = mcpConnector(name, config, this.host, credentials);
    this.servers.set(name, { key, connector });
    return connector;
  }

  /** Closes the servers of entries keel.yaml no longer has (or whose settings are broken now). */
  retain(names: ReadonlySet<string>): void {
    for (const [name, { connector }] of this.servers) {
      if (!names.has(name)) this.closeQuietly(name, connector, 'keel.yaml no longer names it');
    }
  }

  /**
   * Closes the servers the operator no longer trusts (trust revoked, or what the workspace wants
   * changed so it asks again): their processes end now, not when the daemon stops. A later use
   * after consent makes a new connector, which starts its server again.
   */
  closeUntrusted(): void {
    for (const [name, { connector }] of this.servers) {
      if (!this.host.trust.allows(connector.endpoint)) {
        this.closeQuietly(name, connector, 'the operator no longer trusts it');
      }
    }
  }

  /** Closes every server (the daemon stops). */
  async close(): Promise<void> {
    const all = [...this.servers.values()].map(({ connector }) => connector);
    this.servers.clear();
    await Promise.all(all.map((connector) => connector.close().catch(() => undefined)));
  }

  private closeQuietly(name: string, connector: McpConnector, why: string): void {
    this.servers.delete(name);
    connector.close().catch((error: unknown) => {
      this.host.log.warn(`closing the MCP server "${name}" failed (${why})`, { error });
    });
  }
}

/** JSON with object keys sorted: the same settings written in another order are the same server. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}
