/**
 * `keel mcp`: serves the workspace's memory and run history, read-only, as an MCP server on
 * stdin/stdout, for the other agents in the editor. stdout carries the protocol alone; the log
 * goes to stderr. Ends when the client closes stdin.
 */
import type { Command } from 'commander';
import { resolveWorkspace } from '../../workspace/locate';
import type { CliContext } from '../context';

export function registerMcp(program: Command, context: CliContext): void {
  program
    .command('mcp')
    .description("serve the workspace's memory and run history, read-only, as an MCP server over stdio")
    .action(async () => {
      const workspace = resolveWorkspace(context.workspaceOption());
      // Loaded only for this command: the MCP SDK is costly to load (see serveStdio.ts). The
      // bundle holds the module and turns this import() into a call, so none is left for node:vm.
      const { serveStdio } = await import('../../mcpServer/serveStdio');
      await serveStdio(workspace, context.log);
    });
}
