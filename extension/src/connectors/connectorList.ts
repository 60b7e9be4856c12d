/**
 * The connectors as the sidebar shows them: one row per keel.yaml entry with its state badge, the
 * age and words of its last probe, and its last error. Pure, shared by the extension host and the
 * sidebar's browser script, and unit-tested.
 */
// Types only: the sidebar's browser bundle must not pull in zod.
import type { ConnectorInfo, ConnectorState } from '@keel/schemas';

/** How a state's badge looks: `ok` green, `warn` amber (the operator can fix it), `error` red. */
export type Tone = 'ok' | 'warn' | 'error' | 'idle';

const TONES: Record<ConnectorState, Tone> = {
  ready: 'ok',
  needs_trust: 'warn',
  needs_credential: 'warn',
  error: 'error',
  unchecked: 'idle',
};

export interface ConnectorRow {
  name: string;
  use: string;
  /** The badge's words: `ready`, `needs trust`, `needs credential password`. */
  badge: string;
  tone: Tone;
  /** `ok 3m ago: IMAP …`, `failed 10s ago`, `never checked`. */
  probe: string;
  /** The probe's own words, when it passed (a failure's are the error). */
  probeDetail: string | null;
  /** The server's own name and version from the last probe (plain text, bounded), or null. */
  version: string | null;
  /** While a failed probe keeps the breaker open: what that means and how to close it. */
  breaker: string | null;
  lastEvent: string | null;
  error: string | null;
  /** Whether "Set secret" applies: keel.yaml reads a credential from the editor's secret storage. */
  secrets: string[];
  /** Everything the row shows, in one sentence for screen readers. */
  label: string;
}

export function connectorState(info: Pick<ConnectorInfo, 'state' | 'credential'>): string {
  if (info.state === 'needs_credential') return `needs credential ${info.credential ?? ''}`.trim();
  return info.state.replace('_', ' ');
}

/** `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function age(at: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(at)) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

export function connectorRow(info: ConnectorInfo, now: number): ConnectorRow {
  const badge = connectorState(info);
  const probe = info.lastProbe
    ? `${info.lastProbe.ok ? 'ok' : 'failed'} ${age(info.lastProbe.at, now)}`
    : 'never checked';
  const lastEvent = info.lastEventAt ? `last event ${age(info.lastEventAt, now)}` : null;
  const probeDetail = info.lastProbe?.ok ? info.lastProbe.detail : null;
  const version = info.lastProbe?.version ? `server ${info.lastProbe.version}` : null;
  const breaker =
    info.breaker === 'open'
      ? `breaker open: its actions are refused until a probe passes (Check, or "keel connectors check ${info.name}")`
      : null;
  const parts = [
    `${info.name} (${info.use})`,
    badge,
    breaker,
    `probe ${probe}`,
    probeDetail,
    version,
    lastEvent,
    info.lastError ? `error: ${info.lastError}` : null,
  ];
  return {
    name: info.name,
    use: info.use,
    badge,
    tone: TONES[info.state],
    probe,
    probeDetail,
    version,
    breaker,
    lastEvent,
    error: info.lastError,
    secrets: info.credentials.filter((c) => c.from === 'secret').map((c) => c.name),
    label: parts.filter((part) => part !== null).join(', '),
  };
}

/** Those that need the operator first (error, then needs credential or trust), then by name. */
export function sortConnectors(connectors: readonly ConnectorInfo[]): ConnectorInfo[] {
  const rank: Record<ConnectorState, number> = {
    error: 0,
    needs_credential: 1,
    needs_trust: 2,
    unchecked: 3,
    ready: 4,
  };
  return [...connectors].sort((a, b) => rank[a.state] - rank[b.state] || a.name.localeCompare(b.name));
}

/** Where the editor keeps a connector's credential: per workspace folder, connector and credential. */
export function connectorSecretKey(folder: string, connector: string, credential: string): string {
  return `keel.connectorSecret/${[folder, connector, credential].map(encodeURIComponent).join('/')}`;
}
