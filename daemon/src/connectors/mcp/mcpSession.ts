/**
 * One MCP server's client, owned in one place: started on first use (never before the operator
 * trusted exactly this server), reused by every call, started again after the server died, and
 * closed (the process killed) when the daemon stops. A local server's stderr goes to the daemon
 * log line by line, shortened, rate-limited and with credential values redacted.
 */
import type { Stream } from 'node:stream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Implementation, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import { OperatorError } from '../../errors';
import { resolveInside } from '../../files/workspacePaths';
import type { Logger } from '../../log';
import { KEEL_VERSION } from '../../version';
import { OutcomeUnknownError } from '../sdk';
import { isStdio, mcpTrustEndpoint, type McpServerConfig, type McpValue } from './mcpConfig';
import type * as McpClientSdk from './mcpClientSdk';
import { McpSchemaValidator } from './mcpSchemas';

/**
 * The SDK's client, loaded when a session first starts its server (see mcpClientSdk.ts). The
 * bundle turns this `import()` of a module it holds into a call, so none is left for `node:vm`.
 */
let sdk: typeof McpClientSdk | null = null;

async function loadSdk(): Promise<typeof McpClientSdk> {
  sdk ??= await import('./mcpClientSdk');
  return sdk;
}

/** What the session needs of the daemon: its log, and the operator's consent. */
export interface McpHost {
  log: Logger;
  /** Whether the operator consented to this exact endpoint (WorkspaceTrust.allows). */
  trust: { allows(endpoint: TrustEndpoint): boolean };
}

/** What a start needs from the caller's context. */
export interface McpStartContext {
  workspace: string;
  credential(name: string): string;
}

/** Longest stderr line kept, and how many lines a minute reach the log. */
const STDERR_LINE_CHARS = 500;
const STDERR_LINES_PER_MINUTE = 120;

export class McpSession {
  private client: Client | null = null;
  private stdio: StdioClientTransport | null = null;
  /** The server's last stderr lines: why it would not start is usually there. */
  private lastStderr: string[] = [];
  private starting: Promise<Client> | null = null;
  private closed = false;
  /** The protocol version the server answered `initialize` with (the SDK keeps it only for HTTP). */
  private protocolVersion: string | null = null;
  /** Checks the server's tool schemas in linear time: arguments (Keel) and structured answers (SDK). */
  readonly schemas = new McpSchemaValidator();

  constructor(
    private readonly name: string,
    private readonly config: McpServerConfig,
    private readonly host: McpHost,
    /** Where each credential comes from: part of what the operator consents to. */
    private readonly credentials: Record<string, CredentialSource> = {},
  ) {}

  /** The consent this server needs: its command line (or origin), as the operator saw it. */
  get endpoint(): TrustEndpoint {
    return mcpTrustEndpoint(this.name, this.config, this.credentials);
  }

  /** Refuses unless the operator trusted the workspace with this exact server. */
  checkTrusted(): void {
    if (this.host.trust.allows(this.endpoint)) return;
    throw new OperatorError(
      `Keel does not start or call the MCP server "${this.name}" (${this.endpoint.origin}): ` +
        'the operator has not trusted this workspace with it. Review it with "keel trust" or in ' +
        "the editor's Keel trust prompt.",
    );
  }

  /** The local server's process id while it runs (null for a remote server, or none running). */
  get pid(): number | null {
    return this.client ? (this.stdio?.pid ?? null) : null;
  }

  /** The server's name and version, once connected. */
  serverVersion(): Implementation | undefined {
    return this.client?.getServerVersion();
  }

  /**
   * What the server says it is, once connected: `secure-filesystem-server 0.2.0, MCP 2025-11-25`
   * (its `serverInfo` and the protocol version it answered), or undefined before a handshake.
   */
  versionText(): string | undefined {
    const server = this.serverVersion();
    if (!server) return undefined;
    const protocol = this.protocolVersion ? `, MCP ${this.protocolVersion}` : '';
    return `${server.name} ${server.version}${protocol}`;
  }

  async listTools(ctx: McpStartContext, signal?: AbortSignal): Promise<Tool[]> {
    const client = await this.connected(ctx);
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, {
        timeout: this.config.timeoutMs,
        ...(signal ? { signal } : {}),
      });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor && tools.length < 10_000);
    return tools;
  }

  async callTool(
    ctx: McpStartContext,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const client = await this.connected(ctx);
    try {
      return (await client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: this.config.timeoutMs,
        signal,
      })) as CallToolResult;
    } catch (error) {
      // Sent, but no answer: the tool may have run. A tool has no way to be asked afterwards, so
      // the host leaves the call to the operator instead of calling it again.
      if (unanswered(error, signal)) {
        throw new OutcomeUnknownError(
          `The MCP tool ${this.name}.${tool} gave no answer (${(error as Error).message}); it may have run.`,
        );
      }
      throw error;
    }
  }

  /** Closes the client; a local server's process is ended (stdin closed, then SIGTERM, SIGKILL). */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.starting?.catch(() => null)) ?? null;
    this.client = null;
    await client?.close().catch(() => undefined);
  }

  /** The running client, started now if there is none (first use, or the server died). */
  private connected(ctx: McpStartContext): Promise<Client> {
    if (this.closed) throw new Error(`The MCP server "${this.name}" is closed: the daemon is stopping.`);
    this.checkTrusted();
    if (this.client) return Promise.resolve(this.client);
    this.starting ??= this.start(ctx).finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(ctx: McpStartContext): Promise<Client> {
    // The SDK checks a tool's structured answer against its outputSchema: with the linear-time
    // validator, not its default ajv (whose patterns backtrack).
    const { Client } = await loadSdk();
    const client = new Client({ name: 'keel', version: KEEL_VERSION }, { jsonSchemaValidator: this.schemas });
    const transport: Transport = await this.transport(ctx);
    // The SDK hands the negotiated version to a transport that asks for it (HTTP sends it as a
    // header); it is kept here too, for the probe to report.
    const passOn = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version: string) => {
      this.protocolVersion = version;
      passOn?.(version);
    };
    client.onclose = () => {
      if (this.client === client) this.client = null;
      if (!this.closed) this.host.log.warn(`MCP server "${this.name}" closed; it starts again on next use`);
    };
    try {
      await client.connect(transport, { timeout: this.config.startTimeoutMs });
    } catch (error) {
      await client.close().catch(() => undefined);
      const said = this.lastStderr.length ? `; it said: ${this.lastStderr.join(' | ')}` : '';
      throw new Error(`Cannot start the MCP server "${this.name}": ${(error as Error).message}${said}`);
    }
    if (this.closed) {
      await client.close();
      throw new Error(`The MCP server "${this.name}" is closed: the daemon is stopping.`);
    }
    const server = client.getServerVersion();
    this.host.log.info(`MCP server "${this.name}" connected`, {
      server: server ? `${server.name} ${server.version}` : 'unnamed',
    });
    this.client = client;
    return client;
  }

  private async transport(
    ctx: McpStartContext,
  ): Promise<StdioClientTransport | StreamableHTTPClientTransport> {
    const config = this.config;
    const { StdioClientTransport, StreamableHTTPClientTransport } = await loadSdk();
    if (!isStdio(config)) {
      return new StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: this.resolve(config.headers, ctx) },
      });
    }
    // The folder is the workspace's, reached without following a link; never a path outside it.
    const cwd = config.cwd ? await resolveInside(ctx.workspace, config.cwd, { folder: true }) : ctx.workspace;
    const [command, ...args] = config.command;
    // Only what keel.yaml names joins the SDK's short safe list (HOME, PATH, ...): the daemon's own
    // environment, with the operator's keys, is not handed to the server.
    const transport = new StdioClientTransport({
      command: command!,
      args,
      cwd,
      env: this.resolve(config.env, ctx),
      stderr: 'pipe',
    });
    if (transport.stderr) this.forwardStderr(transport.stderr);
    this.stdio = transport;
    return transport;
  }

  /** Literal values as written; `{ credential }` through the context, and never logged. */
  private resolve(values: Record<string, McpValue>, ctx: McpStartContext): Record<string, string> {
    return Object.fromEntries(
      Object.entries(values).map(([key, value]) => {
        if (typeof value === 'string') return [key, value];
        const secret = ctx.credential(value.credential);
        this.host.log.redact(secret);
        return [key, secret];
      }),
    );
  }

  /**
   * Line by line, holding at most one shortened line in memory: a server that writes megabytes
   * without a newline, or thousands of lines a second, costs the daemon neither memory nor its log.
   */
  private forwardStderr(stream: Stream): void {
    let line = '';
    let windowStart = Date.now();
    let lines = 0;
    const emit = (): void => {
      if (Date.now() - windowStart > 60_000) {
        if (lines > STDERR_LINES_PER_MINUTE) {
          const dropped = lines - STDERR_LINES_PER_MINUTE;
          this.host.log.warn(`MCP server "${this.name}": ${dropped} stderr lines dropped`);
        }
        windowStart = Date.now();
        lines = 0;
      }
      const text = line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS)}…` : line;
      line = '';
      this.lastStderr = [...this.lastStderr.slice(-2), text.slice(0, 200)];
      if (++lines <= STDERR_LINES_PER_MINUTE) {
        this.host.log.info(`MCP server "${this.name}" stderr`, { line: text });
      }
    };
    // Decoded per chunk: a character split across chunks may show as U+FFFD, which a log line can afford.
    stream.on('data', (chunk: Buffer) => {
      for (const [index, part] of chunk.toString('utf8').split('\n').entries()) {
        if (index > 0) emit();
        if (line.length <= STDERR_LINE_CHARS) line += part.slice(0, STDERR_LINE_CHARS + 1 - line.length);
      }
    });
    stream.on('end', () => line && emit());
  }
}

/** A call that ended without the server's answer: timed out, aborted, or its connection closed. */
function unanswered(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  // No SDK loaded yet: no session has started, so no error of its can be here.
  if (!sdk) return false;
  const { ErrorCode, McpError } = sdk;
  return (
    error instanceof McpError &&
    (error.code === (ErrorCode.RequestTimeout as number) ||
      error.code === (ErrorCode.ConnectionClosed as number))
  );
}
