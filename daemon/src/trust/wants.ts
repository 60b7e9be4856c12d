/**
 * What a workspace wants to do on the operator's behalf, read from its keel.yaml and runbooks:
 * the endpoints it would send requests (and a key) to, and the triggers that would start runs on
 * their own. This is what the operator is asked to consent to, and its hash is what a grant names.
 */
import { createHash } from 'node:crypto';
import type { Runbook, RunbookTrigger, TrustEndpoint, WorkspaceConfig } from '@keel/schemas';
import { approvalRules, describeRule } from '../approvals/policy';
import { originOf } from './origin';
import { policyWants } from './policyWants';

export { originOf };

export interface Wants {
  endpoints: TrustEndpoint[];
  triggers: { id: string; runbook: string; kind: string; spec: string }[];
  /**
   * The approvals policy in force, one line each: the file rules (`<glob> allow <kinds>`, what
   * agents change without asking), then the action rules, lists and MCP tool risks (policyWants.ts).
   */
  rules: string[];
}

/**
 * `connectorEndpoints`: what the workspace's connectors would start, call or send a credential to
 * (an MCP server's command line or URL, see connectors/mcp/mcpConfig.ts; an email account's IMAP
 * and SMTP servers, see connectors/email/account.ts), computed by the connector registry.
 */
export function wantsOf(
  config: WorkspaceConfig | null,
  runbooks: readonly Runbook[],
  connectorEndpoints: readonly TrustEndpoint[] = [],
): Wants {
  const endpoints: TrustEndpoint[] = [];
  const endpoint = config?.models.endpoint;
  if (endpoint) {
    endpoints.push({
      purpose: 'models',
      origin: originOf(endpoint.baseUrl),
      apiKeyEnv: endpoint.apiKeyEnv ?? null,
    });
  }
  const embeddings = config?.memory.embeddings;
  if (embeddings?.provider === 'openai') {
    const baseUrl = embeddings.baseUrl ?? endpoint?.baseUrl;
    endpoints.push({
      purpose: 'embeddings',
      origin: baseUrl ? originOf(baseUrl) : '(no baseUrl)',
      apiKeyEnv: embeddings.apiKeyEnv ?? endpoint?.apiKeyEnv ?? null,
    });
  }
  endpoints.push(...connectorEndpoints);
  if (config?.webhooks) endpoints.push(webhooksEndpoint(config.webhooks));
  const triggers = runbooks
    .flatMap((runbook) => runbook.triggers.map((trigger) => ({ runbook: runbook.name, trigger })))
    .filter(({ trigger }) => trigger.type !== 'manual')
    .map(({ runbook, trigger }) => ({
      id: triggerId(runbook, trigger),
      runbook,
      kind: trigger.type === 'schedule' ? 'schedule' : trigger.type === 'event' ? 'event' : 'file',
      spec:
        trigger.type === 'schedule'
          ? `${trigger.cron}${trigger.timezone ? ` (${trigger.timezone})` : ''}`
          : trigger.type === 'fileChanged'
            ? trigger.paths.join(', ')
            : trigger.type === 'event'
              ? eventSpec(trigger)
              : '',
    }))
    .sort((a, b) => a.runbook.localeCompare(b.runbook) || a.id.localeCompare(b.id));
  const rules = config ? [...approvalRules(config.approvals).map(describeRule), ...policyWants(config)] : [];
  return { endpoints, triggers, rules };
}

/** The webhook listener's address, as the operator consents to it (see WebhooksConfig). */
export function webhooksEndpoint(webhooks: { host: string; port: number }): TrustEndpoint {
  const host = webhooks.host.includes(':') ? `[${webhooks.host}]` : webhooks.host;
  return { purpose: 'webhooks', origin: `http://${host}:${webhooks.port}`, apiKeyEnv: null };
}

/** `email.received from inbox when {"from":{"in":"customers"}}`: what the operator consents to. */
function eventSpec(trigger: Extract<RunbookTrigger, { type: 'event' }>): string {
  const from = trigger.connector ? ` from ${trigger.connector}` : '';
  const when = trigger.filter ? ` when ${JSON.stringify(trigger.filter)}` : '';
  return `${trigger.event}${from}${when}`;
}

/** A trigger's identity: its runbook and its whole definition, so an edit makes it a new trigger. */
export function triggerId(runbook: string, trigger: RunbookTrigger): string {
  return createHash('sha256')
    .update(JSON.stringify([runbook, trigger]))
    .digest('hex')
    .slice(0, 16);
}

export function wantsHash(wants: Wants): string {
  return createHash('sha256')
    .update(JSON.stringify([wants.endpoints, wants.triggers.map((t) => t.id), wants.rules]))
    .digest('hex')
    .slice(0, 16);
}

export function sameEndpoint(a: TrustEndpoint, b: TrustEndpoint): boolean {
  return a.purpose === b.purpose && a.origin === b.origin && a.apiKeyEnv === b.apiKeyEnv;
}
