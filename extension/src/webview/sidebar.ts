/**
 * The sidebar webview's script (runs in the browser, not in Node): renders the state the extension
 * sends and posts the operator's actions back as typed messages.
 */
import type { HostToWebviewMessage, SidebarState, WebviewToHostMessage } from '@keel/schemas';

interface VsCodeApi {
  postMessage(message: WebviewToHostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app') as HTMLElement;
let state: SidebarState | null = null;
let receivedAt = Date.now();

window.addEventListener('message', (event: MessageEvent<HostToWebviewMessage>) => {
  if (event.data?.type !== 'state') return;
  state = event.data.state;
  receivedAt = Date.now();
  render();
});
// Uptime and restart countdowns tick without a message from the host.
setInterval(() => {
  if (state?.connection === 'running' || state?.connection === 'restarting') renderTicking();
}, 1_000);
vscode.postMessage({ type: 'ready' });

function render(): void {
  if (!state) return;
  app.replaceChildren(...view(state));
  app.dataset.connection = state.connection;
}

function view(s: SidebarState): HTMLElement[] {
  if (s.connection === 'noFolder') {
    return [
      paragraph('Keel works on a folder: your company’s memory and runbooks, in git.'),
      button('Open Folder', { type: 'openFolder' }, true),
    ];
  }
  if (!s.initialized && s.connection !== 'running') {
    return [
      heading('Set up Keel'),
      paragraph(`${s.folder ?? 'This folder'} is not a Keel workspace yet.`),
      paragraph(
        'Initializing creates keel.yaml, memory/, runbooks/ and a .gitignore, and a git repository if there is none. Nothing existing is overwritten.',
      ),
      button('Initialize Workspace', { type: 'initWorkspace' }, true),
    ];
  }
  return [heading('Daemon'), daemonTable(s), ...problems(s), actions(s)];
}

const STATE_LABELS: Record<SidebarState['connection'], string> = {
  noFolder: 'No folder',
  starting: 'Starting',
  running: 'Running',
  restarting: 'Stopped',
  stopped: 'Stopped',
  failed: 'Failed',
};

function daemonTable(s: SidebarState): HTMLElement {
  const daemon = s.daemon;
  const rows: [string, string, string?][] = [
    ['State', STATE_LABELS[s.connection], 'state'],
    ['Workspace', daemon?.workspace ?? s.folder ?? ''],
  ];
  if (daemon && s.connection === 'running') {
    rows.push(
      ['Version', daemon.version],
      ['Uptime', formatDuration(daemon.uptimeMs + (Date.now() - receivedAt)), 'uptime'],
      ['PID', String(daemon.pid), 'pid'],
      [
        'Config',
        daemon.config === 'valid'
          ? 'keel.yaml is valid'
          : daemon.config === 'missing'
            ? 'no keel.yaml'
            : 'keel.yaml has problems',
      ],
    );
  }
  if (s.lastError && s.connection !== 'running') rows.push(['Why', restartText(s), 'reason']);
  const table = document.createElement('dl');
  table.className = `status ${s.connection}`;
  for (const [label, value, key] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (key) dd.dataset.field = key;
    table.append(dt, dd);
  }
  return table;
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

function actions(s: SidebarState): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'actions';
  const primary = s.connection === 'failed' || s.connection === 'stopped';
  bar.append(
    button(
      s.connection === 'stopped' ? 'Start Daemon' : 'Restart Daemon',
      { type: 'restartDaemon' },
      primary,
    ),
    button('Show Logs', { type: 'showLogs' }, false),
  );
  return bar;
}

function restartText(s: SidebarState): string {
  if (s.connection !== 'restarting' || !s.nextRestartAt) return s.lastError ?? '';
  const seconds = Math.max(0, Math.ceil((Date.parse(s.nextRestartAt) - Date.now()) / 1000));
  return `The daemon stopped unexpectedly; restarting in ${seconds}s (restart ${s.restarts}).`;
}

function renderTicking(): void {
  if (!state) return;
  const uptime = app.querySelector<HTMLElement>('[data-field="uptime"]');
  if (uptime && state.daemon)
    uptime.textContent = formatDuration(state.daemon.uptimeMs + (Date.now() - receivedAt));
  const reason = app.querySelector<HTMLElement>('[data-field="reason"]');
  if (reason) reason.textContent = restartText(state);
}

function heading(text: string): HTMLElement {
  const h = document.createElement('h2');
  h.textContent = text;
  return h;
}

function paragraph(text: string): HTMLElement {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

function button(label: string, message: WebviewToHostMessage, primary: boolean): HTMLElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.className = primary ? 'primary' : 'secondary';
  b.addEventListener('click', () => vscode.postMessage(message));
  return b;
}

function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}
