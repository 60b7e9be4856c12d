/** The sidebar's status sections (daemon, index, problems) and small DOM helpers. */
import type { IndexStatus } from '@keel/schemas';
import type { SidebarState, WebviewToHostMessage } from '@keel/schemas/src/webviews';
import { sidebarTrust, TRUST_LABELS } from './trustStanding';

const STATE_LABELS: Record<SidebarState['connection'], string> = {
  noFolder: 'No folder',
  starting: 'Starting',
  running: 'Running',
  restarting: 'Stopped',
  stopped: 'Stopped',
  failed: 'Failed',
};

export function statusView(
  s: SidebarState,
  receivedAt: number,
  post: (message: WebviewToHostMessage) => void,
): HTMLElement[] {
  const parts = [heading('Daemon'), daemonTable(s, receivedAt), ...problems(s)];
  if (s.connection === 'running' && s.index) parts.push(heading('Memory index'), indexTable(s.index));
  parts.push(actions(s, post));
  return parts;
}

function daemonTable(s: SidebarState, receivedAt: number): HTMLElement {
  const daemon = s.daemon;
  const rows: [string, string, string?][] = [
    ['State', STATE_LABELS[s.connection], 'state'],
    ['Workspace', daemon?.workspace ?? s.folder ?? ''],
  ];
  if (daemon && s.connection === 'running') {
    const config = {
      valid: 'keel.yaml is valid',
      missing: 'no keel.yaml',
      invalid: 'keel.yaml has problems',
    }[daemon.config];
    rows.push(
      ['Version', daemon.version],
      ['Uptime', formatDuration(daemon.uptimeMs + (Date.now() - receivedAt)), 'uptime'],
      ['PID', String(daemon.pid), 'pid'],
      ['Config', config],
      ['Trust', TRUST_LABELS[sidebarTrust(s)], 'trust'],
    );
  }
  if (s.lastError && s.connection !== 'running') rows.push(['Why', restartText(s), 'reason']);
  return table(rows, `status ${s.connection}`);
}

function indexTable(index: IndexStatus): HTMLElement {
  const progress = index.progress;
  const state =
    progress?.phase === 'indexing' && progress.total > 0
      ? `indexing ${progress.done.toLocaleString()} of ${progress.total.toLocaleString()}`
      : index.state;
  const rows: [string, string, string?][] = [
    ['State', state, 'index-state'],
    ['Notes', index.documents.toLocaleString(), 'index-documents'],
    ['Chunks', index.chunks.toLocaleString()],
    ['Last change', index.lastChangeAt ? new Date(index.lastChangeAt).toLocaleTimeString() : 'none yet'],
  ];
  if (index.problems.length > 0)
    rows.push(['Problems', `${index.problems.length} file(s), see Problems panel`]);
  if (index.recovery) rows.push(['Repaired', index.recovery]);
  if (index.catchingUp) rows.push(['Catching up', index.catchingUp]);
  return table(rows, 'status index');
}

function problems(s: SidebarState): HTMLElement[] {
  if (!s.daemon || s.daemon.problems.length === 0) return [];
  const list = document.createElement('ul');
  list.className = 'problems';
  for (const p of s.daemon.problems) {
    const item = document.createElement('li');
    item.textContent = `${p.path}:${p.line}:${p.column} ${p.message}`;
    list.append(item);
  }
  return [list];
}

function actions(s: SidebarState, post: (message: WebviewToHostMessage) => void): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'actions';
  const primary = s.connection === 'failed' || s.connection === 'stopped';
  bar.append(
    button(
      s.connection === 'stopped' ? 'Start Daemon' : 'Restart Daemon',
      () => post({ type: 'restartDaemon' }),
      primary,
    ),
    button('Show Logs', () => post({ type: 'showLogs' }), false),
  );
  if (s.connection === 'running' && s.editorTrusted && s.daemon?.trust) {
    bar.append(button('Review Trust', () => post({ type: 'reviewTrust' }), false));
  }
  // Always at hand while the daemon runs, whether or not the Dashboard is open.
  if (s.connection === 'running') {
    const stop = button('Emergency Stop', () => post({ type: 'emergencyStop' }), false);
    stop.classList.add('danger');
    stop.setAttribute('aria-label', 'Emergency stop: halt every run now');
    bar.append(stop);
  }
  return bar;
}

function restartText(s: SidebarState): string {
  if (s.connection !== 'restarting' || !s.nextRestartAt) return s.lastError ?? '';
  const seconds = Math.max(0, Math.ceil((Date.parse(s.nextRestartAt) - Date.now()) / 1000));
  return `The daemon stopped unexpectedly; restarting in ${seconds}s (restart ${s.restarts}).`;
}

function table(rows: [string, string, string?][], className: string): HTMLElement {
  const list = document.createElement('dl');
  list.className = className;
  for (const [label, value, key] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (key) dd.dataset.field = key;
    list.append(dt, dd);
  }
  return list;
}

export function heading(text: string): HTMLElement {
  const h = document.createElement('h2');
  h.textContent = text;
  return h;
}

export function paragraph(text: string): HTMLElement {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

export function button(label: string, onClick: () => void, primary: boolean): HTMLElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.className = primary ? 'primary' : 'secondary';
  b.addEventListener('click', onClick);
  return b;
}

export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}
