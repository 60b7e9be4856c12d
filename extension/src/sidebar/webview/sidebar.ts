/**
 * The sidebar webview's script (runs in the browser, not in Node): renders the state the extension
 * sends, searches memory from its search box, lists approvals, runbooks and runs, and posts the
 * operator's actions back as typed messages. Each section is built once and only its list is
 * re-rendered as answers arrive, so typing and tabbing keep focus.
 */
import type { SearchResult } from '@keel/schemas';
import type { HostToWebviewMessage, SidebarState, WebviewToHostMessage } from '@keel/schemas/src/webviews';
import { ApprovalsSection } from './approvalsSection';
import { ConnectorsSection } from './connectorsSection';
import { RunbooksSection, RunsSection } from './runsSections';
import { button, formatDuration, heading, paragraph, statusView } from './sidebarParts';
import { announceReady } from '../../webviewHost/webview/ready';
import { trustBanner } from './trustBanner';
import { sidebarTrust } from './trustStanding';

interface VsCodeApi {
  postMessage(message: WebviewToHostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app') as HTMLElement;
const SEARCH_DEBOUNCE_MS = 150;
let state: SidebarState | null = null;
let receivedAt = Date.now();
let searchSeq = 0;
let searchTimer: number | undefined;
/** Built once and kept across renders, so the search box never loses focus or text. */
const search = buildSearch();
const post = (message: WebviewToHostMessage): void => vscode.postMessage(message);
const runbooks = new RunbooksSection(post);
const runs = new RunsSection(post);
const approvals = new ApprovalsSection(post);
const connectors = new ConnectorsSection(post);

window.addEventListener('message', (event: MessageEvent<HostToWebviewMessage>) => {
  const message = event.data;
  if (message?.type === 'state') {
    state = message.state;
    receivedAt = Date.now();
    render();
  } else if (message?.type === 'searchResults' && message.requestId === searchSeq) {
    renderResults(message.results, message.error, message.query);
  } else if (message?.type === 'runbooks') {
    runbooks.update(message.runbooks, message.error);
  } else if (message?.type === 'runs') {
    runs.update(message.runs, message.error);
  } else if (message?.type === 'revealRun') {
    runs.reveal(message.id);
  } else if (message?.type === 'approvals') {
    approvals.update(message.approvals, message.error);
  } else if (message?.type === 'connectors') {
    connectors.update(message.connectors, message.error);
  }
});
setInterval(() => {
  if (state?.connection === 'running' || state?.connection === 'restarting') renderTicking();
  if (state?.connection === 'running') runs.tick(Date.now());
}, 1_000);
// Probe ages are shown in seconds at best: every ten is enough, and keeps the list still to read.
setInterval(() => {
  if (state?.connection === 'running') connectors.tick();
}, 10_000);
announceReady(post);

function render(): void {
  if (!state) return;
  app.dataset.connection = state.connection;
  // Re-attaching the kept sections blurs whatever had focus in them: give it back.
  const active = document.activeElement as HTMLElement | null;
  app.replaceChildren(...view(state));
  if (active && active !== document.body && active.isConnected && document.activeElement !== active) {
    active.focus({ preventScroll: true });
  }
}

function view(s: SidebarState): HTMLElement[] {
  if (s.connection === 'noFolder') {
    return [
      paragraph('Keel works on a folder: your company’s memory and runbooks, in git.'),
      button('Open Folder', () => vscode.postMessage({ type: 'openFolder' }), true),
    ];
  }
  if (!s.initialized && s.connection !== 'running') {
    return [
      heading('Set up Keel'),
      paragraph(`${s.folder ?? 'This folder'} is not a Keel workspace yet.`),
      paragraph(
        'Initializing creates keel.yaml, memory/, runbooks/ and a .gitignore, and a git repository if there is none. Nothing existing is overwritten.',
      ),
      button('Initialize Workspace', () => vscode.postMessage({ type: 'initWorkspace' }), true),
    ];
  }
  // Restricted Mode: memory search and status only; nothing there could run or approve.
  const restricted = sidebarTrust(s) === 'restricted';
  const parts =
    s.connection !== 'running'
      ? []
      : restricted
        ? [search.section]
        : [search.section, approvals.element, runbooks.element, runs.element, connectors.element];
  app.dataset.trust = sidebarTrust(s);
  return [...trustBanner(s, post), ...parts, ...statusView(s, receivedAt, post)];
}

function buildSearch(): { section: HTMLElement; input: HTMLInputElement; results: HTMLElement } {
  const section = document.createElement('section');
  section.className = 'search';
  const label = document.createElement('label');
  label.htmlFor = 'memory-search';
  label.textContent = 'Search memory';
  label.className = 'section-title';
  const input = document.createElement('input');
  input.id = 'memory-search';
  input.type = 'search';
  input.placeholder = 'Customers, contracts, decisions…';
  input.setAttribute('aria-controls', 'memory-results');
  const results = document.createElement('ol');
  results.id = 'memory-results';
  results.className = 'results';
  results.setAttribute('aria-label', 'Search results');
  input.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => startSearch(input.value), SEARCH_DEBOUNCE_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      window.clearTimeout(searchTimer);
      startSearch(input.value);
    } else if (event.key === 'ArrowDown') {
      results.querySelector<HTMLElement>('button')?.focus();
      event.preventDefault();
    }
  });
  results.addEventListener('keydown', (event) => moveFocus(event, results, input));
  section.append(label, input, results);
  return { section, input, results };
}

function startSearch(query: string): void {
  searchSeq++;
  if (query.trim() === '') {
    search.results.replaceChildren();
    return;
  }
  search.results.setAttribute('aria-busy', 'true');
  vscode.postMessage({ type: 'search', requestId: searchSeq, query });
}

function renderResults(results: SearchResult[], error: string | null, query: string): void {
  search.results.removeAttribute('aria-busy');
  if (error) {
    search.results.replaceChildren(listNote(`Search failed: ${error}`));
    return;
  }
  if (results.length === 0) {
    search.results.replaceChildren(listNote(`Nothing found for “${query}”.`));
    return;
  }
  search.results.replaceChildren(
    ...results.map((result) => {
      const item = document.createElement('li');
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'result';
      open.dataset.path = result.path;
      open.dataset.line = String(result.startLine);
      const where = document.createElement('span');
      where.className = 'where';
      where.textContent = `${result.path}:${result.startLine}${result.stale ? ' · stale' : ''}`;
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = result.heading || (result.path.split('/').at(-1) ?? result.path);
      const preview = document.createElement('span');
      preview.className = 'preview';
      preview.textContent = result.text.replace(/\s+/g, ' ').slice(0, 160);
      open.append(title, where, preview);
      open.addEventListener('click', () =>
        vscode.postMessage({ type: 'openResult', path: result.path, line: result.startLine }),
      );
      item.append(open);
      return item;
    }),
  );
}

function listNote(text: string): HTMLElement {
  const item = document.createElement('li');
  item.className = 'muted';
  item.textContent = text;
  return item;
}

/** Up and down arrows move between results; up from the first goes back to the search box. */
function moveFocus(event: KeyboardEvent, results: HTMLElement, input: HTMLInputElement): void {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const buttons = [...results.querySelectorAll<HTMLElement>('button')];
  const index = buttons.indexOf(document.activeElement as HTMLElement);
  const next = event.key === 'ArrowDown' ? index + 1 : index - 1;
  if (next < 0) input.focus();
  else buttons[Math.min(next, buttons.length - 1)]?.focus();
  event.preventDefault();
}

function renderTicking(): void {
  if (!state) return;
  const uptime = app.querySelector<HTMLElement>('[data-field="uptime"]');
  if (uptime && state.daemon)
    uptime.textContent = formatDuration(state.daemon.uptimeMs + (Date.now() - receivedAt));
  const reason = app.querySelector<HTMLElement>('[data-field="reason"]');
  if (reason && state.connection === 'restarting' && state.nextRestartAt) {
    const seconds = Math.max(0, Math.ceil((Date.parse(state.nextRestartAt) - Date.now()) / 1000));
    reason.textContent = `The daemon stopped unexpectedly; restarting in ${seconds}s (restart ${state.restarts}).`;
  }
}
