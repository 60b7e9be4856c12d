/**
 * Drift between an MCP server's tools and the workspace's runbooks: a tool a runbook uses that the
 * server no longer lists (renamed, removed), or a `connector` step whose arguments no longer fit
 * the tool's input schema (an argument now required that the step does not give, or one the tool
 * no longer takes). The server declares its tools; the runbooks were written against an older list.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ActionUse } from '../sdk';

/** One sentence per use that no longer fits, naming the runbook, its step and the tool. */
export function toolDrift(tools: readonly Tool[], uses: readonly ActionUse[]): string[] {
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const problems: string[] = [];
  for (const use of uses) {
    const where = `${use.runbook} step "${use.step}"`;
    const tool = byName.get(use.action);
    if (!tool) {
      const listed = [...byName.keys()].sort().join(', ') || 'none';
      problems.push(
        `${where} uses the tool "${use.action}", which the server no longer lists (it lists: ${listed})`,
      );
      continue;
    }
    if (use.args === null) continue; // an agent's tool: the model reads the schema at each call
    const schema = tool.inputSchema;
    const missing = (schema.required ?? []).filter((name) => !use.args!.includes(name));
    if (missing.length > 0) {
      problems.push(
        `${where} calls the tool "${use.action}" without ${quoted(missing)}, which the tool now requires`,
      );
    }
    // Only a closed schema (`additionalProperties: false`) says an argument it does not name is one
    // the tool renamed or dropped and refuses; JSON Schema's default, and `{}`, take any name.
    const declared = schema.properties ? Object.keys(schema.properties) : null;
    if (!declared || (schema as { additionalProperties?: unknown }).additionalProperties !== false) continue;
    const unknown = use.args.filter((name) => !declared.includes(name));
    if (unknown.length > 0) {
      problems.push(
        `${where} gives the tool "${use.action}" ${quoted(unknown)}, which it no longer takes (it takes: ${declared.join(', ') || 'nothing'})`,
      );
    }
  }
  return problems;
}

function quoted(names: string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
