/**
 * The words the CLI and the editor use to ask for workspace trust: one line per thing the workspace
 * wants to do on the operator's behalf, so both ask about exactly the same things in the same way.
 */
import type { TrustEndpoint, TrustState, TrustTrigger } from './protocol/trust';

const PURPOSE: Record<TrustEndpoint['purpose'], string> = {
  models: 'model requests (runs)',
  embeddings: 'embeddings requests (indexing and search)',
  mcp: 'MCP tool calls',
  email: "an email account's login and mail",
  calendar: "a calendar account's login and events",
  http: 'HTTP API requests (http@1)',
  webhooks: 'signed webhook deliveries',
  billing: "a Stripe account's secret key, customers, invoices and refunds",
};

/** One line per endpoint and trigger the workspace names, in the order keel.yaml and runbooks list them. */
export function describeWants(state: Pick<TrustState, 'endpoints' | 'triggers' | 'rules'>): string[] {
  const lines = [...state.endpoints.map(describeEndpoint), ...state.triggers.map(describeTrigger)];
  if (lines.length === 0)
    lines.push('Nothing leaves this machine: no endpoint and no automatic trigger is named.');
  return [...lines, ...state.rules.map(describeRule)];
}

export function describeEndpoint(endpoint: TrustEndpoint): string {
  // A local MCP server is a program Keel would start: say so, with the whole command line.
  if (endpoint.purpose === 'mcp' && !/^https?:\/\//.test(endpoint.origin)) {
    return `Start the local program ${endpoint.origin} and send it MCP tool calls.`;
  }
  // A remote MCP server: its origin and the headers it gets (credentials by name and source).
  if (endpoint.purpose === 'mcp') return `Send MCP tool calls to ${endpoint.origin}.`;
  // A mail server gets the account's password itself, not a key: say so.
  if (endpoint.purpose === 'email') {
    const password = endpoint.apiKeyEnv
      ? `the password in the environment variable ${endpoint.apiKeyEnv}`
      : "the password from the editor's secret storage";
    return `Log in to the mail server ${endpoint.origin} with ${password}, and read or send mail there.`;
  }
  if (endpoint.purpose === 'calendar') {
    const password = endpoint.apiKeyEnv
      ? `the password in the environment variable ${endpoint.apiKeyEnv}`
      : "the password from the editor's secret storage";
    return `Log in to the CalDAV server ${endpoint.origin} with ${password}, and read or change events there.`;
  }
  // The webhook listener: an open port that lets signed deliveries start runs.
  if (endpoint.purpose === 'webhooks') {
    return `Listen on ${endpoint.origin} for signed webhook deliveries (POST /hooks/<connector>) that may start runs.`;
  }
  if (endpoint.purpose === 'billing') {
    const key = endpoint.apiKeyEnv
      ? `the secret key in the environment variable ${endpoint.apiKeyEnv}`
      : "the secret key from the editor's secret storage";
    return `Call the Stripe API at ${endpoint.origin} with ${key}: read and create customers and invoices, send invoices, refund.`;
  }
  const key = endpoint.apiKeyEnv
    ? `with the value of the environment variable ${endpoint.apiKeyEnv} as its key`
    : 'without a key';
  return `Send ${PURPOSE[endpoint.purpose]} to ${endpoint.origin} ${key}.`;
}

/**
 * One line of the approvals policy keel.yaml sets (see the daemon's trust/policyWants.ts): a file
 * rule `<glob> allow <kinds>`, an action rule `action <n>: <action> <decision>[ when <tests>]`, a
 * named list `list <name>: <items>`, an MCP tool's risk `tool <server>.<tool>: <risk>`, or where
 * alerts go `alerts: <action> with <arguments> on <kinds>`.
 */
export function describeRule(rule: string): string {
  const action = /^action (\d+): (\S+) (allow|ask|deny)(?: when (.*))?$/.exec(rule);
  if (action) {
    const [, n, name, decide, when] = action;
    const condition = when ? `, when ${when}` : '';
    const verb =
      decide === 'allow'
        ? `Run the connector action ${name} at once, without asking you`
        : decide === 'deny'
          ? `Refuse the connector action ${name}`
          : `Ask you before the connector action ${name}`;
    return `${verb}${condition} (keel.yaml approvals.actions, rule ${n}; the first rule that matches decides).`;
  }
  const list = /^list ([^:]+): (.*)$/.exec(rule);
  if (list) {
    return `Count ${list[2] || 'nothing'} in the list "${list[1]}" that keel.yaml's action rules test (for example the domains mail may go to without asking you).`;
  }
  const alerts = /^alerts: (\S+) with (.*) on (.*)$/.exec(rule);
  if (alerts) {
    const [, action, fixed, kinds] = alerts;
    return `Send alerts (${kinds}) through the connector action ${action} with ${fixed}, without asking you each time (keel.yaml alerts.to).`;
  }
  const tool = /^tool ([^.]+)\.(.+): (read|internal|external|irreversible)$/.exec(rule);
  if (tool) {
    const [, server, name, risk] = tool;
    const what =
      risk === 'read'
        ? 'as read-only: agents call it at once, without asking you'
        : risk === 'internal'
          ? 'as internal (it changes nothing outside the workspace): agents call it without asking you'
          : `as ${risk}: agents ask you before each call, unless an action rule allows it`;
    return `Treat the tool "${name}" of the MCP server "${server}" ${what}.`;
  }
  return `Apply agents' changes without asking you where keel.yaml says: ${rule}.`;
}

export function describeTrigger(trigger: TrustTrigger): string {
  const when =
    trigger.kind === 'schedule'
      ? `on the schedule "${trigger.spec}"`
      : trigger.kind === 'file'
        ? `when files change under "${trigger.spec}"`
        : `on ${trigger.kind} "${trigger.spec}"`;
  return `Start runbook "${trigger.runbook}" by itself ${when}.`;
}

/** Where trust stands, in the three words the sidebar and `keel status` show. */
export type TrustStanding = 'trusted' | 'restricted' | 'asks again';

/**
 * `asks again` when the operator once trusted this workspace but what it wants changed since (a new
 * endpoint, key variable or trigger), `restricted` when they never did.
 */
export function trustStanding(state: Pick<TrustState, 'trusted' | 'grantedAt' | 'triggers'>): TrustStanding {
  if (state.trusted && state.triggers.every((trigger) => trigger.consented)) return 'trusted';
  return state.grantedAt ? 'asks again' : 'restricted';
}

/** The question put to the operator, with what the workspace wants as its list. */
export function trustQuestion(state: Pick<TrustState, 'trusted' | 'grantedAt' | 'triggers'>): string {
  return trustStanding(state) === 'asks again'
    ? 'This workspace’s settings changed since you trusted it. Trust it with these?'
    : 'Trust this workspace? Until you do, Keel indexes and searches it locally but sends nothing and runs nothing.';
}
