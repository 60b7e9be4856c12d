/**
 * What an MCP probe counts as drift between a server's tools and the runbooks: the uses found in
 * parsed runbooks (connector steps and agent tools, of this connector only), and which changes of a
 * tool's input schema break a step (a new required argument, an argument dropped) and which do not
 * (an optional argument added, a tool that takes any argument, an agent's tool whose arguments the
 * model fills).
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { expect, it } from 'vitest';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';
import { actionUses } from '../../daemon/src/connectors/actionUses';
import { toolDrift } from '../../daemon/src/connectors/mcp/toolDrift';

const RUNBOOK = `apiVersion: keel/v1
name: sync
role: Clerk
description: Copies issues to notes.
steps:
  - id: fetch
    type: connector
    use: github
    action: list_issues
    with: { repo: keel, state: open }
  - id: save
    type: connector
    use: fs.outbox@1
    action: write
    with: { path: issues.md, content: x }
  - id: triage
    type: agent
    goal: Label the issues.
    tools: [github.add_label, github.list_issues, mail.send]
`;

function uses() {
  const { runbook, problems } = parseRunbook(RUNBOOK, 'runbooks/sync.yaml');
  expect(problems).toEqual([]);
  return actionUses([{ path: 'runbooks/sync.yaml', runbook: runbook! }], 'github');
}

function tool(name: string, inputSchema: Record<string, unknown>): Tool {
  return { name, inputSchema: { type: 'object', ...inputSchema } };
}

const listIssues = (properties: Record<string, unknown>, required: string[]) =>
  tool('list_issues', { properties, required });

it("finds this connector's steps and agent tools, with the arguments a step gives", () => {
  expect(uses()).toEqual([
    { runbook: 'runbooks/sync.yaml', step: 'fetch', action: 'list_issues', args: ['repo', 'state'] },
    { runbook: 'runbooks/sync.yaml', step: 'triage', action: 'add_label', args: null },
    { runbook: 'runbooks/sync.yaml', step: 'triage', action: 'list_issues', args: null },
  ]);
});

it('an optional argument added, or a tool taking any argument, is no drift', () => {
  const addLabel = tool('add_label', {});
  const grown = listIssues({ repo: {}, state: {}, labels: {} }, ['repo']);
  expect(toolDrift([grown, addLabel], uses())).toEqual([]);
  const open = tool('list_issues', { properties: { repo: {} }, additionalProperties: true });
  expect(toolDrift([open, addLabel], uses())).toEqual([]);
  expect(toolDrift([tool('list_issues', {}), addLabel], uses())).toEqual([]);
  // Without `additionalProperties: false` a schema is open (JSON Schema's default): an argument it
  // does not name may still be taken, so only a closed schema makes it drift.
  const unnamed = listIssues({ repository: {} }, []);
  expect(toolDrift([unnamed, addLabel], uses())).toEqual([]);
  const emptyExtra = tool('list_issues', { properties: { repository: {} }, additionalProperties: {} });
  expect(toolDrift([emptyExtra, addLabel], uses())).toEqual([]);
});

it('a new required argument, a dropped one and a vanished tool each name runbook, step and tool', () => {
  const changed = { ...listIssues({ repository: {}, state: {} }, ['repository']) };
  changed.inputSchema = { ...changed.inputSchema, additionalProperties: false };
  expect(toolDrift([changed], uses())).toEqual([
    'runbooks/sync.yaml step "fetch" calls the tool "list_issues" without "repository", which the tool now requires',
    'runbooks/sync.yaml step "fetch" gives the tool "list_issues" "repo", which it no longer takes (it takes: repository, state)',
    'runbooks/sync.yaml step "triage" uses the tool "add_label", which the server no longer lists (it lists: list_issues)',
  ]);
});
