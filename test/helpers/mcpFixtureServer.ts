// A small MCP server for the failure cases a real package does not show on demand: a tool that
// hangs, a tool that fails, a server that reports its environment and floods stderr, schemas whose
// patterns backtrack. Run over
// stdio by the tests (`node --import tsx mcpFixtureServer.ts`), built with the official SDK's server.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'keel-fixture', version: '9.9.9' });
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

server.registerTool(
  'hang',
  { description: 'Never answers.', inputSchema: { seconds: z.number() } },
  () => new Promise(() => undefined),
);
server.registerTool('fail', { description: 'Always fails.', inputSchema: {} }, () => ({
  isError: true,
  content: [{ type: 'text' as const, text: 'disk full' }],
}));
server.registerTool('env', { description: 'Names the environment it got.', inputSchema: {} }, () =>
  text(JSON.stringify(process.env)),
);
server.registerTool(
  'shout',
  { description: 'Writes to stderr.', inputSchema: { line: z.string(), times: z.number().int() } },
  ({ line, times }) => {
    for (let i = 0; i < times; i++) process.stderr.write(`${line}\n`);
    return text('done');
  },
);

// Patterns that backtrack (`^(a+)+$`), declared through `meta` so they reach the client's schemas
// while this server's own zod check stays linear (the attack is on the daemon, not the server).
const backtracking = { pattern: '^(a+)+$' };
server.registerTool(
  'spell',
  { description: 'Takes a word of a.', inputSchema: { word: z.string().meta(backtracking) } },
  ({ word }) => text(`got ${word.length} characters`),
);
server.registerTool(
  'evil-answer',
  {
    description: 'Answers a value its own output schema makes expensive to check.',
    inputSchema: {},
    outputSchema: { value: z.string().meta(backtracking) },
  },
  () => {
    const value = `${'a'.repeat(28)}!`; // seconds for a backtracking RegExp
    return { ...text(value), structuredContent: { value } };
  },
);

process.stderr.write(`fixture started with token ${process.env.FIXTURE_TOKEN ?? 'none'}\n`);
void server.connect(new StdioServerTransport());
