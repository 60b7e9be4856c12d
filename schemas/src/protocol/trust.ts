/**
 * Workspace trust: what a workspace wants to do on the operator's behalf (send requests with a key
 * to an endpoint, fire runs on a schedule or on file changes), and whether the operator consented.
 * Until they do, the daemon indexes and searches with the local embedder only: it sends nothing,
 * resumes no run, fires no trigger and finishes no stored approval.
 */
import { z } from 'zod';
import { NoParams } from './common';
import { defineNotification, defineRequest, lazy } from './define';

/** One place the workspace's settings would send requests to, and the secret they would carry. */
export const TrustEndpoint = lazy(() =>
  z.object({
    /**
     * What for: model calls (runs), embeddings (indexing and search), an MCP server keel.yaml names
     * as a connector (a local command Keel would start, or a URL it would call), or the IMAP or SMTP
     * server of an email account keel.yaml names (it receives the account's password), an http@1
     * API's origin, or the webhook listener's address (`webhooks:`, where deliveries may start runs).
     */
    purpose: z.enum(['models', 'embeddings', 'mcp', 'email', 'calendar', 'http', 'webhooks', 'billing']),
    /**
     * `scheme://host:port` of the endpoint, as named in keel.yaml (`imaps://mail.example.com:993`,
     * `smtp://127.0.0.1:25` for a mail server); for a local MCP server, the whole command line with
     * its folder and environment (`mcp files: npx -y server /data (in ., env A=b)`).
     */
    origin: z.string(),
    /**
     * The environment variable whose value would be sent as the bearer token (for a mail server: as
     * the account's password), if any.
     */
    apiKeyEnv: z.string().nullable(),
  }),
);
export type TrustEndpoint = z.infer<typeof TrustEndpoint>;

/** A runbook trigger that would start runs without the operator asking each time. */
export const TrustTrigger = lazy(() =>
  z.object({
    /** Stable id of this exact trigger definition: editing the trigger makes it a new one. */
    id: z.string(),
    runbook: z.string(),
    /** `schedule` (cron) or `file` (a change under a path). */
    kind: z.string(),
    /** The cron expression or the path glob, as written. */
    spec: z.string(),
    /** Whether the operator consented to this exact definition. */
    consented: z.boolean(),
  }),
);
export type TrustTrigger = z.infer<typeof TrustTrigger>;

export const TrustState = lazy(() =>
  z.object({
    /** Every endpoint the workspace names was consented to: runs and remote embeddings may go out. */
    trusted: z.boolean(),
    /** The workspace's real path, the key trust is stored under. */
    workspace: z.string(),
    endpoints: z.array(TrustEndpoint.unwrap()),
    triggers: z.array(TrustTrigger.unwrap()),
    /**
     * The keel.yaml approvals policy in force, one line each: file rules as `<glob> allow <kinds>`
     * (what agents may change without asking), action rules as `action <n>: <action> <decision>
     * [when <tests>]`, named lists as `list <name>: <items>`, MCP tool risks as `tool <server>.<tool>:
     * <risk>` (trustWords.ts's describeRule words each one). A change to any asks again.
     */
    rules: z.array(z.string()),
    /** Hash of `endpoints` and `triggers`: a grant names it, so it covers exactly what was shown. */
    wantsHash: z.string(),
    /** When the operator last consented, or null. */
    grantedAt: z.string().nullable(),
    /** One sentence for the operator: what trust would allow, or why it is asked again. */
    summary: z.string(),
  }),
);
export type TrustState = z.infer<typeof TrustState>;

/** `keel/trust/state`: what the workspace wants and what the operator consented to. */
export const TrustStateRequest = defineRequest({
  method: 'keel/trust/state',
  params: NoParams,
  result: TrustState,
});

/**
 * `keel/trust/grant`: the operator consents to exactly what `wantsHash` names (as last shown to
 * them). Refused with `TrustChanged` when the workspace's settings changed since.
 */
export const TrustGrantRequest = defineRequest({
  method: 'keel/trust/grant',
  params: lazy(() => z.strictObject({ wantsHash: z.string().min(1) })),
  result: TrustState,
});

/** `keel/trust/revoke`: forget the consent; the workspace is restricted again at once. */
export const TrustRevokeRequest = defineRequest({
  method: 'keel/trust/revoke',
  params: NoParams,
  result: TrustState,
});

/** `keel/trust/didChange`: sent when trust or what the workspace wants changes. */
export const TrustChangedNotification = defineNotification({
  method: 'keel/trust/didChange',
  direction: 'serverToClient',
  params: TrustState,
});
