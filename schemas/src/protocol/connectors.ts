/**
 * Connectors: the editor hands over the credentials keel.yaml keeps in its secret storage
 * (`credentials: { password: { secret: true } }`), per workspace and connector. The daemon keeps
 * them in memory only and redacts them from everything it writes.
 */
import { z } from 'zod';
import { NoParams } from './common';
import { defineNotification, defineRequest, lazy } from './define';

/** `keel/connectors/setSecret`: a credential from the editor's secret storage; an empty value forgets it. */
export const SetConnectorSecretRequest = defineRequest({
  method: 'keel/connectors/setSecret',
  params: lazy(() =>
    z.strictObject({
      /** The connector's name under `connectors:` in keel.yaml. */
      connector: z.string().min(1),
      credential: z.string().min(1),
      value: z.string().max(64_000),
    }),
  ),
  result: lazy(() => z.object({ ok: z.literal(true) })),
});

/**
 * Where a connector instance stands, worst first as the operator acts on it: `needs_trust` (its
 * servers were not consented to: nothing of it is contacted), `needs_credential` (one keel.yaml
 * names is unset or too short), `error` (its last probe or event poll failed), `unchecked` (nothing
 * tried yet), `ready` (its last probe passed).
 */
export const ConnectorState = lazy(() =>
  z.enum(['ready', 'needs_trust', 'needs_credential', 'error', 'unchecked']),
);
export type ConnectorState = z.infer<typeof ConnectorState>;

export const ConnectorProbeInfo = lazy(() =>
  z.object({
    ok: z.boolean(),
    /** What the probe saw (servers, folders) or why it failed; never a credential. */
    detail: z.string(),
    /** When it ran (ISO time). */
    at: z.string(),
    /** The server's own name and version where it reports one (plain text, at most 200 characters). */
    version: z.string().max(200).optional(),
  }),
);
export type ConnectorProbeInfo = z.infer<typeof ConnectorProbeInfo>;

/** One connector instance keel.yaml names, as the sidebar and `keel connectors` show it. */
export const ConnectorInfo = lazy(() =>
  z.object({
    /** The name under `connectors:` in keel.yaml. */
    name: z.string(),
    /** The connector it is an instance of: `email@1`, `mcp.files@1`. */
    use: z.string(),
    state: ConnectorState.unwrap(),
    /** With `needs_credential`: the credential that is missing (`password`). */
    credential: z.string().nullable(),
    /** Credential names keel.yaml gives it, with where each comes from; never a value. */
    credentials: z.array(z.object({ name: z.string(), from: z.enum(['env', 'secret']) })),
    actions: z.array(
      z.object({ name: z.string(), risk: z.enum(['read', 'internal', 'external', 'irreversible']) }),
    ),
    events: z.array(z.string()),
    lastProbe: ConnectorProbeInfo.unwrap().nullable(),
    /**
     * `open` while its last probe failed: every action of it refuses at once until a probe passes
     * (scheduled, or `keel connectors check NAME`).
     */
    breaker: z.enum(['closed', 'open']).default('closed'),
    /** When its event source last brought something in (ISO time), or null. */
    lastEventAt: z.string().nullable(),
    /** The last failure in words the operator can act on (probe, event poll, credential), or null. */
    lastError: z.string().nullable(),
  }),
);
export type ConnectorInfo = z.infer<typeof ConnectorInfo>;

/** `keel/connectors/list`: every connector instance keel.yaml names; contacts nothing. */
export const ConnectorsListRequest = defineRequest({
  method: 'keel/connectors/list',
  params: NoParams,
  result: lazy(() => z.object({ connectors: z.array(ConnectorInfo.unwrap()) })),
});

/**
 * `keel/connectors/check`: runs the probe of one instance (`name`) or of all of them now and
 * answers with their new standing. An instance whose servers are not trusted, or whose credential
 * is missing, is reported as such without contacting anything.
 */
export const ConnectorsCheckRequest = defineRequest({
  method: 'keel/connectors/check',
  params: lazy(() =>
    z
      .strictObject({ name: z.string().min(1).optional() })
      .optional()
      .default({}),
  ),
  result: lazy(() => z.object({ connectors: z.array(ConnectorInfo.unwrap()) })),
});

/** `keel/connectors/changed`: the standing of some connector changed (probe, event, trust, keel.yaml). */
export const ConnectorsChangedNotification = defineNotification({
  method: 'keel/connectors/changed',
  direction: 'serverToClient',
  params: lazy(() => z.object({ connectors: z.array(ConnectorInfo.unwrap()) })),
});

/** The state in words: `ready`, `needs trust`, `needs credential password`, `error`, `unchecked`. */
export function describeConnectorState(info: Pick<ConnectorInfo, 'state' | 'credential'>): string {
  if (info.state === 'needs_credential') return `needs credential ${info.credential ?? ''}`.trim();
  return info.state.replace('_', ' ');
}
