/**
 * `keel mcp`: serves the workspace's memory and run history, read-only, as an MCP server on
 * stdin/stdout, for the other agents in the editor. stdout carries the protocol alone; the log
 * goes to stderr. Ends when the client closes stdin.
 */
import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { keelMcpServer } from '../../mcpServer/keelMcpServer';
import { WorkspaceLease } from '../../mcpServer/workspaceLease';
import { resolveWorkspace } from '../../workspace/locate';
import type { CliContext } from '../context';

export function registerMcp(program: Command, context: CliContext): void {
  program
    .command('mcp')
    .description("serve the workspace's memory and run history, read-only, as an MCP server over stdio")
    .action(async () => {
      const workspace = resolveWorkspace(context.workspaceOption());
      const lease = new WorkspaceLease(workspace, context.log);
      const server = keelMcpServer(workspace, (body) => lease.use(body));
      const transport = new StdioServerTransport();
      const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
      process.stdin.once('end', () => void server.close());
      await server.connect(transport);
      await closed;
      await lease.close();
    });
}
