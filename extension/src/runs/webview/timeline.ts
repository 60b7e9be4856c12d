/**
 * The run timeline's script (browser, DOM only): renders the host's trace as rows of steps (steps
 * that ran together side by side, one lane each), re-renders in place as the live run changes
 * (keeping which steps are open and where the focus is), and moves between steps with Up and Down.
 */
import type { RunTrace } from '@keel/schemas';
import type { HostToTimelineMessage, TimelineToHostMessage } from '@keel/schemas/src/webviews';
import { button, element } from '../../webviewHost/webview/dom';
import { announceReady } from '../../webviewHost/webview/ready';
import { formatMs, formatUsd, runDurationMs, STATUS_ICONS, STATUS_LABELS } from '../runList';
import { routeLines, timelineRows } from '../timelineModel';
import { stepView } from './stepView';

interface VsCodeApi {
  postMessage(message: TimelineToHostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: TimelineToHostMessage): void => vscode.postMessage(message);
const root = document.getElementById('timeline')!;

// Only the host posts here, and it sends what the schema checked on its side (runTimelinePanel.ts).
window.addEventListener('message', (event: MessageEvent<HostToTimelineMessage>) => {
  const message = event.data;
  if (message.type === 'error') root.replaceChildren(element('p', 'error', message.message));
  else if (message.type === 'trace') render(message.trace, message.live);
  else return;
  root.setAttribute('aria-busy', 'false');
});

root.addEventListener('keydown', (event) => {
  const target = event.target as HTMLElement;
  if (!target.classList.contains('step-toggle')) return;
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const toggles = [...root.querySelectorAll<HTMLButtonElement>('button.step-toggle')];
  const next = toggles[toggles.indexOf(target as HTMLButtonElement) + (event.key === 'ArrowDown' ? 1 : -1)];
  if (next) next.focus();
  event.preventDefault();
});

function render(trace: RunTrace, live: boolean): void {
  // Re-rendered whole: keep which steps are open and which one has the focus.
  const expanded = new Set(
    [...root.querySelectorAll<HTMLElement>('article.step')]
      .filter((a) => a.querySelector('.step-toggle')?.getAttribute('aria-expanded') === 'true')
      .map((a) => a.dataset.stepId!),
  );
  const active = document.activeElement;
  const focused = active?.classList.contains('step-toggle')
    ? active.closest<HTMLElement>('article.step')?.dataset.stepId
    : undefined;
  const { run } = trace;
  root.dataset.status = run.status;
  root.dataset.live = String(live);
  const notes: HTMLElement[] = [];
  if (run.error) notes.push(note('Error', run.error));
  if (run.escalation) notes.push(note('Escalated to you', run.escalation));
  const routes = routeLines(trace, formatUsd);
  if (routes.length > 0) notes.push(note('Model tiers', routes.join('\n')));
  root.replaceChildren(runHeader(trace, live), ...notes, stepRows(trace, expanded));
  if (focused !== undefined) {
    root
      .querySelector<HTMLElement>(`article.step[data-step-id="${CSS.escape(focused)}"] .step-toggle`)
      ?.focus();
  }
}

function runHeader({ run }: RunTrace, live: boolean): HTMLElement {
  const header = element('header', 'run-header');
  header.append(
    element('h1', '', `Run of ${run.runbook}: ${STATUS_ICONS[run.status]} ${STATUS_LABELS[run.status]}`),
  );
  const facts = [
    run.id,
    `${run.stepsDone} of ${run.stepsTotal} steps done`,
    formatMs(runDurationMs(run, Date.now())),
    `${formatUsd(run.costUsd)} (${run.tokens.toLocaleString('en-US')} tokens)`,
  ];
  header.append(element('p', 'muted run-facts', facts.join(' · ')));
  const liveNote = element('p', 'live', live ? 'Live: this timeline follows the run.' : '');
  liveNote.setAttribute('role', 'status');
  header.append(liveNote);
  const actions = element('div', 'actions');
  actions.append(
    button('Copy as Markdown', `Copy the trace of run ${run.id} as Markdown`, () =>
      post({ type: 'copyMarkdown' }),
    ),
    button('Open as Markdown', `Open the trace of run ${run.id} as a Markdown document`, () =>
      post({ type: 'openMarkdown' }),
    ),
  );
  if (run.parent) {
    const parent = run.parent.runId;
    actions.append(
      button('Open parent run', `Open parent run ${parent}`, () => post({ type: 'openRun', id: parent })),
    );
  }
  if (run.status === 'waiting_approval' && run.waitingFor) {
    const proposal = run.waitingFor;
    actions.append(
      button('Open proposed change', 'Open the diff of the proposed change', () =>
        post({ type: 'openProposal', id: proposal }),
      ),
    );
  }
  header.append(actions);
  return header;
}

/** One list item per row of the timeline; a row of several lanes holds steps that ran together. */
function stepRows(trace: RunTrace, expanded: ReadonlySet<string>): HTMLElement {
  const rows = element('ol', 'rows');
  rows.setAttribute('aria-label', `Steps of run ${trace.run.id}`);
  for (const row of timelineRows(trace.steps)) {
    const item = element('li', 'row');
    item.dataset.lanes = String(row.lanes.length);
    if (row.lanes.length > 1) {
      item.setAttribute('aria-label', `${row.lanes.length} steps that ran at the same time`);
    }
    for (const step of row.lanes) item.append(stepView(step, trace, expanded.has(step.id), post));
    rows.append(item);
  }
  if (trace.steps.length === 0) rows.append(element('li', 'muted', 'No step has started yet.'));
  return rows;
}

function note(title: string, text: string): HTMLElement {
  const section = element('section', 'run-note');
  section.append(element('h2', '', title), element('pre', '', text));
  return section;
}

announceReady(post);
