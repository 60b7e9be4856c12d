/**
 * The MCP SDK's client side, loaded by `mcpClientSdk()` when a session first starts a server or
 * reads an error: its import builds some 1,000 zod schemas, which a `keel` command that never
 * talks to an MCP server should not pay at start-up (issue 14). Imported here, required there, so
 * the bundle keeps one copy of the SDK (this module and keel mcp's server share it).
 */
export { Client } from '@modelcontextprotocol/sdk/client/index.js';
export { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
export { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
export { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
