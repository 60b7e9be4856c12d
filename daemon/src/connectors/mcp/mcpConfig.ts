/**
 * What keel.yaml says about one MCP server (`connectors: <name>: { use: mcp, ... }`), and what the
 * operator is asked to consent to before Keel starts or calls it. The consent names the whole
 * command line, folder and environment: a `git pull` that changes any of them asks again.
 */
import { isIP } from 'node:net';
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import { z } from 'zod';
import { originOf } from '../../trust/origin';

/** A value keel.yaml writes as it is, or the name of one of the connector's credentials. */
export const McpValue = z.union([z.string(), z.strictObject({ credential: z.string().min(1) })]);
export type McpValue = z.infer<typeof McpValue>;

export const McpRisk = z.enum(['read', 'internal', 'external', 'irreversible']);
export type McpRisk = z.infer<typeof McpRisk>;

const common = {
  use: z.string().regex(/^mcp(@1)?$/, { error: 'an MCP server is written "use: mcp"' }),
  description: z.string().optional(),
  /** Risk of each tool the operator classed; every other tool is `external`. */
  tools: z.record(z.string(), McpRisk).default({}),
  /** How long one tool call may take before it is cancelled. */
  timeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
  /** How long the server may take to start and answer the handshake (`npx -y` may download first). */
  startTimeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
  /** Where the credentials named by `{ credential: NAME }` come from: the registry's business. */
  credentials: z.record(z.string(), z.unknown()).optional(),
};

/** A local server Keel starts: argv (no shell), its environment and folder (workspace-relative). */
export const McpStdioConfig = z.strictObject({
  ...common,
  command: z.array(z.string().min(1)).min(1, { error: 'command is the argv, e.g. [npx, -y, server]' }),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), McpValue).default({}),
  cwd: z.string().min(1).optional(),
});

/** A remote server over streamable HTTP. */
export const McpHttpConfig = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
  headers: z.record(z.string(), McpValue).default({}),
});

export const McpServerConfig = z.union([McpStdioConfig, McpHttpConfig]);
export type McpServerConfig = z.infer<typeof McpServerConfig>;
export type McpStdioConfig = z.infer<typeof McpStdioConfig>;
export type McpHttpConfig = z.infer<typeof McpHttpConfig>;

export function isStdio(config: McpServerConfig): config is McpStdioConfig {
  return 'command' in config;
}

/** `use: mcp` (or `mcp@1`): the entry is an MCP server, not a built-in connector. */
export function isMcpUse(use: string): boolean {
  return /^mcp(@1)?$/.test(use);
}

const SHAPES =
  'Write either { use: mcp, command: [program, arg...], env: {...}, cwd: folder } or { use: mcp, url: https://... }.';

/**
 * Checks a keel.yaml entry against the shape it means (`url` → remote, else local), so each issue
 * has the path of its setting rather than one "matches neither" for the whole entry.
 */
export function checkMcpConfig(
  raw: unknown,
): { config: McpServerConfig } | { issues: { path: (string | number)[]; message: string }[] } {
  const remote = typeof raw === 'object' && raw !== null && 'url' in raw && !('command' in raw);
  const parsed = (remote ? McpHttpConfig : McpStdioConfig).safeParse(raw);
  if (parsed.success) {
    const plain = isStdio(parsed.data) ? null : plainTextCredentials(parsed.data);
    return plain ? { issues: [{ path: ['url'], message: plain }] } : { config: parsed.data };
  }
  return {
    issues: parsed.error.issues.map((issue) => ({
      path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message:
        issue.code === 'unrecognized_keys'
          ? `${issue.message} (an MCP server takes ${Object.keys((remote ? McpHttpConfig : McpStdioConfig).shape).join(', ')})`
          : issue.message,
    })),
  };
}

/**
 * Why a remote server's URL may not carry its credentials, or null: a header holding a credential,
 * or a user and password in the URL, go only over https, or plain http to this machine (loopback).
 */
function plainTextCredentials(config: McpHttpConfig): string | null {
  const url = new URL(config.url);
  const carries =
    Object.values(config.headers).some((value) => typeof value !== 'string') ||
    url.username !== '' ||
    url.password !== '';
  if (!carries || url.protocol === 'https:' || isLoopback(url.hostname)) return null;
  return (
    `${url.origin} is plain http, and this server gets credentials (in its headers or its URL): ` +
    'write an https:// URL (plain http only to localhost or 127.0.0.1), so no one on the network reads them'
  );
}

/** `localhost`, 127.0.0.0/8 or ::1 (as URL.hostname writes it, in brackets). */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Parses a keel.yaml entry, with an error that names the connector and what to write. */
export function parseMcpConfig(name: string, raw: unknown): McpServerConfig {
  const checked = checkMcpConfig(raw);
  if ('config' in checked) return checked.config;
  const issues = checked.issues.map(
    (issue) =>
      `${issue.path.length ? `connectors.${name}.${issue.path.join('.')}` : `connectors.${name}`}: ${issue.message}`,
  );
  throw new Error(`keel.yaml connectors.${name}: not an MCP server: ${issues.join('; ')}\n${SHAPES}`);
}

/** The credential names the entry refers to (`{ credential: NAME }` in env or headers). */
export function credentialNames(config: McpServerConfig): string[] {
  const values = Object.values(isStdio(config) ? config.env : config.headers);
  return [...new Set(values.flatMap((v) => (typeof v === 'string' ? [] : [v.credential])))].sort();
}

/**
 * What the operator consents to for this server: for a local one, the program with its arguments,
 * folder and environment as keel.yaml writes them; for a remote one, its origin and the names of
 * the headers it gets. A credential is shown by name and by where its value comes from (which
 * environment variable, or the editor's secret storage), never by value: a `git pull` that points
 * a credential at another variable, or adds a header, asks again.
 */
export function mcpTrustEndpoint(
  name: string,
  config: McpServerConfig,
  credentials: Record<string, CredentialSource> = {},
): TrustEndpoint {
  const value = (v: McpValue): string =>
    typeof v === 'string' ? quote(v) : describeCredential(v.credential, credentials[v.credential]);
  const pairs = (values: Record<string, McpValue>): string[] =>
    Object.entries(values)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, v]) => `${key}=${value(v)}`);
  if (!isStdio(config)) {
    const headers = pairs(config.headers);
    return {
      purpose: 'mcp',
      origin: `${originOf(config.url)}${headers.length ? ` (headers ${headers.join(' ')})` : ''}`,
      apiKeyEnv: null,
    };
  }
  const env = pairs(config.env);
  const where = [`in ${quote(config.cwd ?? '.')}`, ...(env.length ? [`env ${env.join(' ')}`] : [])];
  return {
    purpose: 'mcp',
    origin: `"${name}": ${config.command.map(quote).join(' ')} (${where.join(', ')})`,
    apiKeyEnv: null,
  };
}

/** `<credential token from the environment variable GITHUB_TOKEN>`: name and source, never the value. */
function describeCredential(name: string, source: CredentialSource | undefined): string {
  const from = !source
    ? 'not named under credentials'
    : 'env' in source
      ? `from the environment variable ${source.env}`
      : "from the editor's secret storage";
  return `<credential ${name} ${from}>`;
}

/** A word as a shell would need it, so the line shown is the line that runs. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
