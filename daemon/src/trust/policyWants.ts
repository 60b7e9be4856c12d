/**
 * The parts of keel.yaml's action policy the operator consents to, next to the file rules: each
 * `approvals.actions` rule (with its place, since the first match decides), each named list the
 * rules test against, and each MCP tool's risk class. A `git pull` that adds an allow-all rule, a
 * domain to a trusted list, or marks an MCP tool `read` changes one of these lines, so trust is
 * asked again and nothing runs under the new policy before the operator agrees.
 *
 * `alerts.to` is consented the same way: the action every alert runs without asking, its fixed
 * arguments (where mail goes) and what raises one, so a pull that sends alerts elsewhere re-asks.
 *
 * The lines are compact and stable (they are stored in the trust record and compared as written);
 * schemas/src/trustWords.ts turns each into a sentence for the prompt.
 */
import type { WorkspaceConfig } from '@keel/schemas';
import { describeActionRule } from '../connectors/actionPolicy';
import { isMcpUse, McpRisk } from '../connectors/mcp/mcpConfig';
import { canonicalJson } from '../runtime/stateKey';

/**
 * `action 1: email.send allow when to in trustedDomains`, `list trustedDomains: acme.com`,
 * `tool gh.delete_repo: read`, in keel.yaml's order (tools sorted, as a map has no order).
 */
export function policyWants(config: WorkspaceConfig): string[] {
  const actions = config.approvals.actions.map((rule, i) => `action ${i + 1}: ${describeActionRule(rule)}`);
  const lists = Object.entries(config.approvals.lists)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, items]) => `list ${name}: ${items.join(', ')}`);
  const tools = Object.entries(config.connectors)
    .filter(([, entry]) => isMcpUse(entry.use))
    .flatMap(([name, entry]) => {
      const tools = entry['tools'];
      if (typeof tools !== 'object' || tools === null) return [];
      return Object.entries(tools as Record<string, unknown>)
        .filter((pair): pair is [string, McpRisk] => McpRisk.safeParse(pair[1]).success)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([tool, risk]) => `tool ${name}.${tool}: ${risk}`);
    });
  return [...actions, ...lists, ...tools, ...alertWants(config)];
}

/** `alerts: email.send with {"to":["op@acme.com"]} on escalation, quotaHit`, or nothing. */
function alertWants(config: WorkspaceConfig): string[] {
  const alerts = config.alerts;
  if (!alerts) return [];
  const { connector, action } = alerts.to;
  return [`alerts: ${connector}.${action} with ${canonicalJson(alerts.to.with)} on ${alerts.on.join(', ')}`];
}
