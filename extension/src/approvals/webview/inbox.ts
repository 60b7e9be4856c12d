/**
 * The approval inbox's script (browser, DOM only): the list of waiting proposals, riskiest and
 * oldest first, filtered by agent, risk and words, with the selected one's details beside it.
 * Everything works from the keyboard: Up/Down or j/k move, Enter or o opens the diff, a approves,
 * e edits, r rejects (the host asks why), x marks a reviewed low-risk proposal for the batch and
 * Shift+A approves the marked ones. Every key has a button too.
 */
import type { HostToInboxMessage, InboxItem, InboxToHostMessage } from '@keel/schemas/src/webviews';
import { formatUsd } from '../../runs/runList';
import { button, element } from '../../webviewHost/webview/dom';
import { announceReady } from '../../webviewHost/webview/ready';
import { InlineDiffs } from './inlineDiff';
import {
  age,
  batchable,
  filterInbox,
  inboxAgents,
  NO_FILTER,
  riskOf,
  RISKS,
  type InboxFilter,
  type InboxRisk,
} from '../inboxModel';

interface VsCodeApi {
  postMessage(message: InboxToHostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: InboxToHostMessage): void => vscode.postMessage(message);
const root = document.getElementById('inbox')!;

let items: InboxItem[] = [];
let filter: InboxFilter = { ...NO_FILTER };
let selected: string | null = null;
/** Proposals whose details the operator has seen: only those may go in a batch. */
const reviewed = new Set<string>();
const marked = new Set<string>();
let status = '';
const diffs = new InlineDiffs(
  (id) => post({ type: 'diff', id }),
  (id) => post({ type: 'open', id }),
);

// Only the host posts here, and it sends what the schema checked on its side (approvalInbox.ts).
window.addEventListener('message', (event: MessageEvent<HostToInboxMessage>) => {
  const message = event.data;
  if (message.type === 'error') {
    root.replaceChildren(element('p', 'error', message.message));
  } else if (message.type === 'items') {
    items = message.items;
    const open = new Set(items.map((i) => i.proposal.id));
    for (const id of [...marked]) if (!open.has(id)) marked.delete(id);
    render();
  } else if (message.type === 'diff' || message.type === 'diffError') {
    const shownItem = items.find((i) => i.proposal.id === selected);
    if (diffs.receive(message, shownItem?.proposal)) redrawDiff(shownItem!);
    return;
  } else return;
  root.setAttribute('aria-busy', 'false');
});

function shown(): InboxItem[] {
  return filterInbox(items, filter);
}

function render(): void {
  const focusedList =
    document.activeElement?.closest('#inbox-list') !== null && document.activeElement !== null;
  const focusedFile = document.activeElement?.closest<HTMLElement>('details.file-diff')?.dataset.path;
  const visible = shown();
  if (!visible.some((i) => i.proposal.id === selected)) selected = visible[0]?.proposal.id ?? null;
  if (selected) reviewed.add(selected);
  const header = element('header', 'inbox-header');
  header.append(
    element(
      'h1',
      '',
      items.length === 0 ? 'Nothing waits for your approval' : `${items.length} waiting for you`,
    ),
  );
  if (items.length === 0) {
    header.append(
      element(
        'p',
        'muted',
        'When an agent wants to change a note or act through a connector, it waits here for your decision.',
      ),
    );
    root.replaceChildren(header, statusLine());
    return;
  }
  header.append(filters());
  // Only memory notes go in a batch: without one, the batch bar would only be noise.
  if (items.some((i) => batchable(i.proposal))) header.append(batchBar());
  const body = element('div', 'inbox-body');
  body.append(list(visible), details(visible.find((i) => i.proposal.id === selected) ?? null));
  root.replaceChildren(header, body, statusLine());
  if (focusedList && selected) focusRow(selected);
  else if (focusedFile !== undefined) focusFile(root, focusedFile);
}

function statusLine(): HTMLElement {
  const line = element('p', 'status muted', status);
  line.setAttribute('role', 'status');
  return line;
}

function say(text: string): void {
  status = text;
  const line = root.querySelector('.status');
  if (line) line.textContent = text;
}

function filters(): HTMLElement {
  const bar = element('div', 'filters');
  bar.setAttribute('role', 'search');
  const agent = select(
    'Agent',
    [['', 'All agents'], ...inboxAgents(items).map((a): [string, string] => [a, a])],
    filter.agent ?? '',
    (value) => (filter = { ...filter, agent: value === '' ? null : value }),
  );
  const risk = select(
    'Risk',
    [['', 'Any risk'], ...[...RISKS].reverse().map((r): [string, string] => [r, r])],
    filter.risk ?? '',
    (value) => (filter = { ...filter, risk: value === '' ? null : (value as InboxRisk) }),
  );
  const text = element('input', 'filter-text');
  text.type = 'search';
  text.placeholder = 'Filter by words';
  text.value = filter.text;
  text.setAttribute('aria-label', 'Filter by words in the summary, reasoning, agent or paths');
  text.addEventListener('input', () => {
    filter = { ...filter, text: text.value };
    renderKeepingFocus('.filter-text');
  });
  bar.append(agent, risk, text);
  return bar;
}

function select(
  label: string,
  options: [string, string][],
  value: string,
  change: (value: string) => void,
): HTMLElement {
  const wrap = element('label', 'filter', `${label} `);
  const box = element('select');
  for (const [v, text] of options) {
    const option = element('option', '', text);
    option.value = v;
    option.selected = v === value;
    box.append(option);
  }
  box.addEventListener('change', () => {
    change(box.value);
    render();
  });
  wrap.append(box);
  return wrap;
}

function renderKeepingFocus(selector: string): void {
  const input = root.querySelector<HTMLInputElement>(selector);
  const caret = input?.selectionStart ?? null;
  render();
  const again = root.querySelector<HTMLInputElement>(selector);
  if (again) {
    again.focus();
    if (caret !== null) again.setSelectionRange(caret, caret);
  }
}

function batchBar(): HTMLElement {
  const bar = element('div', 'actions batch');
  const count = marked.size;
  const approve = button(
    count === 0 ? 'Approve marked (none)' : `Approve ${count} marked`,
    'Approve the marked low-risk proposals together (Shift+A)',
    approveMarked,
  );
  approve.disabled = count === 0;
  bar.append(
    approve,
    element('span', 'muted', 'x marks a memory note you have looked at; Shift+A approves the marked ones.'),
  );
  return bar;
}

function list(visible: InboxItem[]): HTMLElement {
  const ul = element('ul', 'inbox-list');
  ul.id = 'inbox-list';
  ul.setAttribute('role', 'listbox');
  ul.setAttribute('aria-label', 'Proposals waiting for your approval, riskiest first');
  if (visible.length === 0) ul.append(element('li', 'muted', 'Nothing matches these filters.'));
  for (const item of visible) {
    const { proposal } = item;
    const li = element('li', 'inbox-row');
    li.id = `row-${cssId(proposal.id)}`;
    li.dataset.id = proposal.id;
    li.dataset.risk = riskOf(proposal);
    li.setAttribute('role', 'option');
    const isSelected = proposal.id === selected;
    li.setAttribute('aria-selected', String(isSelected));
    li.tabIndex = isSelected ? 0 : -1;
    const line = element('span', 'row-line');
    const mark = marked.has(proposal.id) ? '☑ ' : batchable(proposal) ? '☐ ' : '';
    const markSpan = element('span', 'row-mark', mark);
    markSpan.setAttribute('aria-hidden', 'true');
    line.append(markSpan, element('span', 'row-summary', proposal.summary));
    li.append(
      line,
      element(
        'span',
        'row-facts muted',
        [
          riskOf(proposal),
          proposal.runbook,
          age(proposal.createdAt, Date.now()),
          proposal.status === 'stale' ? 'stale' : '',
        ]
          .filter(Boolean)
          .join(' · '),
      ),
    );
    li.setAttribute(
      'aria-label',
      `${proposal.summary}, ${riskOf(proposal)}, from ${proposal.runbook}, ${age(proposal.createdAt, Date.now())}` +
        `${proposal.status === 'stale' ? ', stale' : ''}${marked.has(proposal.id) ? ', marked' : ''}`,
    );
    li.addEventListener('click', () => {
      selected = proposal.id;
      render();
      focusRow(proposal.id);
    });
    ul.append(li);
  }
  ul.addEventListener('keydown', (event) => onKey(event, visible));
  return ul;
}

function onKey(event: KeyboardEvent, visible: InboxItem[]): void {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const at = visible.findIndex((i) => i.proposal.id === selected);
  const current = visible[at];
  const move = (to: number): void => {
    const next = visible[Math.min(Math.max(to, 0), visible.length - 1)];
    if (!next) return;
    selected = next.proposal.id;
    render();
    focusRow(next.proposal.id);
  };
  let handled = true;
  switch (event.key) {
    case 'ArrowDown':
    case 'j':
      move(at + 1);
      break;
    case 'ArrowUp':
    case 'k':
      move(at - 1);
      break;
    case 'Home':
      move(0);
      break;
    case 'End':
      move(visible.length - 1);
      break;
    case 'Enter':
    case 'o':
      if (current) post({ type: 'open', id: current.proposal.id });
      break;
    case 'a':
      if (current) post({ type: 'approve', id: current.proposal.id });
      break;
    case 'e':
      if (current) post({ type: 'edit', id: current.proposal.id });
      break;
    case 'r':
      if (current) post({ type: 'reject', id: current.proposal.id });
      break;
    case 'x':
    case ' ':
      if (current) toggleMark(current);
      break;
    case 'A':
      approveMarked();
      break;
    default:
      handled = false;
  }
  if (handled) event.preventDefault();
}

function toggleMark(item: InboxItem): void {
  const id = item.proposal.id;
  if (marked.delete(id)) {
    say(`Unmarked “${item.proposal.summary}”.`);
  } else if (!batchable(item.proposal)) {
    say('Only pending changes to memory notes can be approved together; decide this one on its own.');
    return;
  } else if (!reviewed.has(id)) {
    say('Look at it first: select it to see its details, then mark it.');
    return;
  } else {
    marked.add(id);
    say(`Marked “${item.proposal.summary}”; ${marked.size} marked.`);
  }
  render();
  focusRow(id);
}

function approveMarked(): void {
  if (marked.size === 0) {
    say('Nothing is marked: x marks a memory note you have looked at.');
    return;
  }
  post({ type: 'approveBatch', ids: [...marked] });
}

function focusRow(id: string): void {
  root.querySelector<HTMLElement>(`#row-${cssId(id)}`)?.focus();
}

function details(item: InboxItem | null): HTMLElement {
  const section = element('section', 'inbox-details');
  section.setAttribute('aria-label', 'The selected proposal');
  if (!item) return section;
  const { proposal } = item;
  section.append(element('h2', '', proposal.summary));
  section.append(
    element(
      'p',
      'muted',
      `${riskOf(proposal)} · proposed by ${proposal.runbook} (step ${proposal.stepId}) · ${age(proposal.createdAt, Date.now())}`,
    ),
  );
  if (proposal.status === 'stale') {
    section.append(
      element(
        'p',
        'warning',
        `Stale: ${proposal.staleFiles.join(', ') || 'a file'} changed since it was proposed. The diff below is against the file as it is now: look again before deciding.`,
      ),
    );
  }
  const actions = element('div', 'actions');
  const id = proposal.id;
  actions.append(
    button(proposal.action ? 'Review (o)' : 'Open diff (o)', 'Open what it would do in an editor', () =>
      post({ type: 'open', id }),
    ),
    button('Approve (a)', `Approve: ${proposal.summary}`, () => post({ type: 'approve', id })),
    button('Edit (e)', `Edit before approving: ${proposal.summary}`, () => post({ type: 'edit', id })),
    button('Reject (r)', `Reject, saying why: ${proposal.summary}`, () => post({ type: 'reject', id })),
  );
  section.append(actions);

  section.append(element('h3', '', 'What it wants to do'));
  if (proposal.action) {
    section.append(
      element(
        'p',
        '',
        `${proposal.action.connector}.${proposal.action.action}: ${proposal.action.review.title}`,
      ),
      element('pre', 'review', proposal.action.review.text),
    );
  } else {
    section.append(diffs.view(proposal));
  }
  section.append(
    element('h3', '', 'Why'),
    element('p', 'reasoning', proposal.reasoning || 'The agent gave no reason.'),
  );
  section.append(element('h3', '', 'Why it waits for you'), element('p', '', waitReason(item)));

  section.append(element('h3', '', 'The run'));
  const run = element('p', '');
  run.append(
    `Run ${proposal.runId}${item.costUsd === null ? '' : `, ${formatUsd(item.costUsd)} spent so far`} `,
    button('Open run', `Open the timeline of run ${proposal.runId}`, () =>
      post({ type: 'openRun', id: proposal.runId }),
    ),
  );
  section.append(run);
  if (item.inputs && Object.keys(item.inputs).length > 0) {
    section.append(
      element('h4', '', 'Inputs'),
      element('pre', 'inputs', JSON.stringify(item.inputs, null, 2)),
    );
  }
  section.append(element('h3', '', 'Memory it read'));
  if (item.read.length === 0)
    section.append(element('p', 'muted', 'The run read no notes before proposing this.'));
  else {
    const notes = element('ul', 'notes');
    for (const note of item.read) {
      const li = element('li');
      li.append(
        button(
          `${note.path}:${note.startLine}-${note.endLine}`,
          `Open ${note.path} at line ${note.startLine}`,
          () => post({ type: 'openNote', path: note.path, line: note.startLine }),
        ),
      );
      notes.append(li);
    }
    section.append(notes);
  }
  return section;
}

/** The selected proposal's diff arrived: drawn in place, the focus kept on the file it was on. */
function redrawDiff(item: InboxItem): void {
  const old = root.querySelector('.inline-diff');
  if (!old) return;
  const focusedPath = document.activeElement?.closest<HTMLElement>('details.file-diff')?.dataset.path;
  const fresh = diffs.view(item.proposal);
  old.replaceWith(fresh);
  if (focusedPath !== undefined) focusFile(fresh, focusedPath);
}

/** Puts the focus back on a file's fold after the diff was drawn again. */
function focusFile(within: HTMLElement, path: string): void {
  for (const file of within.querySelectorAll<HTMLElement>('details.file-diff')) {
    if (file.dataset.path === path) file.querySelector('summary')?.focus();
  }
}

/** The rule that made the proposal wait, in words. */
function waitReason({ proposal }: InboxItem): string {
  if (proposal.action) return proposal.action.rule;
  if (proposal.protected) {
    return 'It touches keel.yaml, runbooks/ or .vscode/: only your explicit decision applies it, whatever the policy says.';
  }
  return 'No approvals rule in keel.yaml lets this change through on its own, so it asks you.';
}

function cssId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '-');
}

announceReady(post);
