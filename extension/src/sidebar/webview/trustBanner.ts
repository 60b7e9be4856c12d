/**
 * What the sidebar says about workspace trust: a banner in Restricted Mode and while Keel waits for
 * the operator's consent (with what the workspace wants), and one status row. Buttons are real
 * buttons, reachable with Tab and pressed with Enter or Space.
 */
import type { TrustState } from '@keel/schemas';
import type { SidebarState, WebviewToHostMessage } from '@keel/schemas/src/webviews';
// Only the words, not the schemas: the webview bundle stays free of zod.
import { describeWants } from '@keel/schemas/src/trustWords';
import { button, paragraph } from './sidebarParts';
import { RESTRICTED_TEXT, sidebarTrust } from './trustStanding';

/** The banner above everything else, or none when the workspace is trusted. */
export function trustBanner(s: SidebarState, post: (message: WebviewToHostMessage) => void): HTMLElement[] {
  const standing = sidebarTrust(s);
  if (standing === 'restricted') {
    return [
      banner('restricted', 'Restricted Mode', [
        paragraph(RESTRICTED_TEXT),
        button('Manage Workspace Trust', () => post({ type: 'manageWorkspaceTrust' }), true),
      ]),
    ];
  }
  const trust = s.daemon?.trust;
  if (!trust || (standing !== 'not trusted' && standing !== 'asks again')) return [];
  return [
    banner(standing === 'asks again' ? 'asks-again' : 'consent', 'Waiting for your consent', [
      paragraph(
        standing === 'asks again'
          ? 'This workspace’s settings changed since you trusted it. Keel sends nothing and runs nothing until you trust them:'
          : 'Keel sends nothing and runs nothing until you trust this workspace. It wants to:',
      ),
      wantsList(trust),
      button('Review and Trust…', () => post({ type: 'reviewTrust' }), true),
    ]),
  ];
}

function banner(kind: string, title: string, children: HTMLElement[]): HTMLElement {
  const section = document.createElement('section');
  section.className = `trust-banner ${kind}`;
  section.setAttribute('role', 'region');
  section.setAttribute('aria-label', `Workspace trust: ${title}`);
  section.dataset.trust = kind;
  const heading = document.createElement('strong');
  heading.textContent = title;
  section.append(heading, ...children);
  return section;
}

function wantsList(trust: TrustState): HTMLElement {
  const list = document.createElement('ul');
  list.className = 'wants';
  for (const line of describeWants(trust)) {
    const item = document.createElement('li');
    item.textContent = line;
    list.append(item);
  }
  return list;
}
