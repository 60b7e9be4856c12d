/** Where the sidebar says trust stands: VS Code's Restricted Mode first, then Keel's own consent. */
import type { SidebarState } from '@keel/schemas/src/webviews';
// Only the words, not the schemas: the webview bundle stays free of zod.
import { trustStanding } from '@keel/schemas/src/trustWords';

export const RESTRICTED_TEXT =
  'This workspace is in Restricted Mode: Keel indexes and searches it locally but sends nothing, runs nothing.';

/** `restricted` (VS Code's Restricted Mode), Keel's own standing, or `unknown` before the daemon said. */
export type SidebarTrust = 'restricted' | 'trusted' | 'not trusted' | 'asks again' | 'unknown';

export function sidebarTrust(s: Pick<SidebarState, 'editorTrusted' | 'daemon'>): SidebarTrust {
  if (!s.editorTrusted) return 'restricted';
  const trust = s.daemon?.trust;
  if (!trust) return 'unknown';
  const standing = trustStanding(trust);
  return standing === 'restricted' ? 'not trusted' : standing;
}

/** The words of the Trust row in the daemon's table. */
export const TRUST_LABELS: Record<SidebarTrust, string> = {
  restricted: 'Restricted Mode',
  trusted: 'Trusted',
  'not trusted': 'Not trusted yet',
  'asks again': 'Asks again: settings changed',
  unknown: '…',
};
