/**
 * `mcp.<name>@1`: an MCP server named in keel.yaml as a connector. Its tools become its actions
 * once listed (`refresh`, or a `probe`); each is `external` unless the operator classed it in
 * keel.yaml (`tools: { read_file: read }`); a server's own `readOnlyHint` is its word, not the
 * operator's, and changes nothing. MCP has no idempotency keys and no way to ask whether a call
 * happened, so no action has `find`: the conductor treats an interrupted call as unknown.
 */
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Connector, ConnectorAction, ProbeContext, ProbeResult } from '../sdk';
import { credentialNames, McpServerConfig, parseMcpConfig } from './mcpConfig';
import { McpSession, type McpHost } from './mcpSession';
import { toolAction, type McpToolOutput } from './mcpTools';
import { toolDrift } from './toolDrift';

export { McpToolOutput, McpToolError } from './mcpTools';
export type { McpHost } from './mcpSession';

/** A tool as an action: JSON arguments in, the server's answer (untrusted) out. */
export type McpToolAction = ConnectorAction<Record<string, unknown>, McpToolOutput>;

export interface McpConnector extends Connector {
  /** The server's tools, by name; empty until `refresh` or `probe` listed them. */
  actions: Record<string, McpToolAction>;
  /** The server's endpoint as the operator consents to it (see mcpTrustEndpoint). */
  readonly session: McpSession;
  /** Lists the server's tools again (starting it if needed) and makes them this connector's actions. */
  refresh(ctx: ProbeContext): Promise<string[]>;
  /** Lists the tools unless they are listed already (see Connector.prepare). */
  prepare(ctx: ProbeContext): Promise<void>;
  readonly endpoint: TrustEndpoint;
  /** Stops the server's process (or closes the HTTP session): on daemon stop or a config change. */
  close(): Promise<void>;
}

/**
 * The connector for the MCP server keel.yaml calls `name`. Nothing starts here: the server is
 * started on first use, and only once the operator trusted the workspace with it (`host.trust`).
 */
export function mcpConnector(
  name: string,
  rawConfig: unknown,
  host: McpHost,
  credentials: Record<string, CredentialSource> = {},
): McpConnector {
  const config = parseMcpConfig(name, rawConfig);
  const session = new McpSession(name, config, host, credentials);
  // No prototype: a tool the server names `__proto__` or `constructor` is one more own key, never
  // a change to what every other object inherits.
  const actions = Object.create(null) as Record<string, McpToolAction>;

  let listed = false;
  /** The tools as last listed, with their schemas: what the probe checks the runbooks against. */
  let tools: Tool[] = [];
  const refresh = async (ctx: ProbeContext): Promise<string[]> => {
    tools = await session.listTools(ctx, ctx.signal);
    for (const key of Object.keys(actions)) delete actions[key];
    for (const tool of tools) {
      const risk = Object.hasOwn(config.tools, tool.name) ? config.tools[tool.name]! : 'external';
      actions[tool.name] = toolAction(name, tool, risk, session.schemas, (input, actionCtx) =>
        session.callTool(actionCtx, tool.name, input, actionCtx.signal),
      );
    }
    const unknown = Object.keys(config.tools).filter((tool) => !Object.hasOwn(actions, tool));
    if (unknown.length > 0) {
      host.log.warn(
        `keel.yaml connectors.${name}.tools names tools the MCP server does not offer: ${unknown.join(', ')}`,
      );
    }
    listed = true;
    return tools.map((tool) => tool.name);
  };

  // Listed once for every host that needs the tools; a failed listing is forgotten, so the next
  // use tries again (the server may be up by then, or the operator has trusted it).
  let listing: Promise<void> | null = null;
  const prepare = (ctx: ProbeContext): Promise<void> => {
    if (listed) return Promise.resolve();
    listing ??= refresh(ctx).then(
      () => {
        listing = null;
      },
      (error: unknown) => {
        listing = null;
        throw error;
      },
    );
    return listing;
  };

  return {
    id: `mcp.${name}@1`,
    description:
      config.description ??
      `The MCP server "${name}" (${'command' in config ? config.command.join(' ') : config.url})`,
    configSchema: McpServerConfig,
    credentials: credentialNames(config),
    actions,
    events: {},
    session,
    endpoint: session.endpoint,
    get actionsKnown() {
      return listed;
    },
    refresh,
    prepare,
    close: () => session.close(),
    async probe(ctx: ProbeContext): Promise<ProbeResult> {
      const checkedAt = new Date().toISOString();
      try {
        const names = await refresh(ctx);
        const version = session.versionText();
        const drift = toolDrift(tools, ctx.uses ? await ctx.uses() : []);
        const server = version ?? name;
        if (drift.length > 0) {
          const more = drift.length > 5 ? ` (and ${drift.length - 5} more)` : '';
          return {
            ok: false,
            detail: `The MCP server "${name}" (${server}) no longer offers what the runbooks use: ${drift.slice(0, 5).join('; ')}${more}. Update the runbooks, or pin the server's version in keel.yaml's command.`,
            ...(version ? { version } : {}),
            checkedAt,
          };
        }
        return {
          ok: true,
          detail: `${server}: ${names.length} tools (${names.join(', ')})`,
          ...(version ? { version } : {}),
          checkedAt,
        };
      } catch (error) {
        return { ok: false, detail: (error as Error).message, checkedAt };
      }
    },
  };
}
