/**
 * `keel mcp`'s work: Keel's MCP server on stdin/stdout until the client closes stdin. Required by
 * the command only when it runs: the MCP SDK builds some 1,000 zod schemas as it loads, which
 * every other `keel` command would pay at start-up (issue 14).
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from '../log';
import { keelMcpServer } from './keelMcpServer';
import { WorkspaceLease } from './workspaceLease';

export async function serveStdio(workspace: string, log: Logger): Promise<void> {
  const lease = new WorkspaceLease(workspace, log);
  const server = keelMcpServer(workspace, (body) => lease.use(body));
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  await closed;
  await lease.close();
}
