/**
 * The sidebar's Runbooks and Runs sections (browser code). Each is built once and re-renders its
 * list in place as the extension sends new lists, keeping keyboard focus on the same control.
 */
import type { RunbookInfo, RunSummary } from '@keel/schemas';
import type { WebviewToHostMessage } from '@keel/schemas/src/webviews';
import {
  canCancel,
  canTakeOver,
  describeRun,
  formatMs,
  formatUsd,
  runDurationMs,
  STATUS_ICONS,
  STATUS_LABELS,
} from '../../runs/runList';

type Post = (message: WebviewToHostMessage) => void;

export class RunbooksSection {
  readonly element = section('runbooks', 'Runbooks');
  private readonly list = listElement('ul', 'runbook-list', 'Runbooks');
  private readonly note = note();

  constructor(private readonly post: Post) {
    const refresh = smallButton('↻', 'Refresh runbooks', () => post({ type: 'refreshRunbooks' }));
    refresh.dataset.focusKey = 'refresh-runbooks';
    this.element.querySelector('.section-header')?.append(refresh);
    this.element.append(this.note, this.list);
  }

  update(runbooks: RunbookInfo[], error: string | null): void {
    keepFocus(this.element, () => {
      this.note.textContent = error
        ? `Could not list the runbooks: ${error}`
        : runbooks.length === 0
          ? 'No runbooks yet. Add one under runbooks/ (apiVersion: keel/v1).'
          : '';
      this.note.hidden = this.note.textContent === '';
      this.list.replaceChildren(...runbooks.map((runbook) => this.item(runbook)));
    });
  }

  private item(runbook: RunbookInfo): HTMLElement {
    const item = document.createElement('li');
    item.className = runbook.problems.length > 0 ? 'runbook invalid' : 'runbook';
    item.dataset.runbook = runbook.name;
    const head = document.createElement('div');
    head.className = 'runbook-head';
    head.append(span('name', runbook.name));
    if (runbook.role) head.append(span('role', runbook.role));
    item.append(head);
    if (runbook.description) item.append(span('description', runbook.description));
    const problem = runbook.problems[0];
    if (problem) {
      const where = `${problem.path}:${problem.line}:${problem.column}`;
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'problem';
      open.dataset.focusKey = `problem:${runbook.name}`;
      open.textContent = `${where} ${problem.message}`;
      open.setAttribute('aria-label', `${runbook.name} cannot run. Open ${where}: ${problem.message}`);
      open.addEventListener('click', () =>
        this.post({ type: 'openResult', path: problem.path, line: problem.line, column: problem.column }),
      );
      item.append(open);
      const more = runbook.problems.length - 1;
      if (more > 0) item.append(span('muted', `and ${more} more problem${more === 1 ? '' : 's'}`));
    } else {
      const run = document.createElement('button');
      run.type = 'button';
      run.className = 'primary run';
      run.textContent = 'Run';
      run.dataset.focusKey = `run:${runbook.name}`;
      run.setAttribute('aria-label', `Run ${runbook.name}`);
      run.addEventListener('click', () => this.post({ type: 'runRunbook', runbook: runbook.name }));
      item.append(run);
    }
    return item;
  }
}

export class RunsSection {
  readonly element = section('runs', 'Runs');
  private readonly list = listElement('ol', 'run-list', 'Recent runs');
  private readonly note = note();
  /** Announces runs that finish, for screen readers; the list itself is not a live region. */
  private readonly announcer = document.createElement('div');
  private statuses = new Map<string, RunSummary['status']>();

  constructor(private readonly post: Post) {
    this.announcer.className = 'visually-hidden';
    this.announcer.setAttribute('role', 'status');
    this.list.setAttribute('aria-live', 'off');
    this.element.append(this.note, this.list, this.announcer);
  }

  update(runs: RunSummary[], error: string | null): void {
    const now = Date.now();
    keepFocus(this.element, () => {
      this.note.textContent = error
        ? `Could not list the runs: ${error}`
        : runs.length === 0
          ? 'No runs yet. Run a runbook to see it here.'
          : '';
      this.note.hidden = this.note.textContent === '';
      this.list.replaceChildren(...runs.map((run) => this.item(run, now)));
    });
    const finished = runs.filter(
      (run) =>
        this.statuses.get(run.id) !== run.status && this.statuses.has(run.id) && !canCancel(run.status),
    );
    if (finished.length > 0) {
      this.announcer.textContent = finished
        .map((r) => `Run ${r.runbook} ${STATUS_LABELS[r.status]}.`)
        .join(' ');
    }
    this.statuses = new Map(runs.map((run) => [run.id, run.status]));
  }

  /** Scrolls to a run just started, marks it and focuses it. */
  reveal(id: string): void {
    const row = this.list.querySelector<HTMLElement>(`li[data-run-id="${CSS.escape(id)}"]`);
    if (!row) return;
    row.classList.remove('revealed');
    void row.offsetWidth; // restart the highlight animation
    row.classList.add('revealed');
    row.scrollIntoView({ block: 'nearest' });
    row.querySelector<HTMLElement>('button.run-open')?.focus({ preventScroll: true });
  }

  /** Live runs' durations, once a second. */
  tick(now: number): void {
    for (const field of this.list.querySelectorAll<HTMLElement>('[data-started-at]')) {
      field.textContent = formatMs(Math.max(0, now - Date.parse(field.dataset.startedAt!)));
    }
  }

  private item(run: RunSummary, now: number): HTMLElement {
    const item = document.createElement('li');
    item.className = 'run';
    item.dataset.runId = run.id;
    item.dataset.status = run.status;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'run-open';
    open.dataset.focusKey = `open:${run.id}`;
    open.setAttribute('aria-label', `${describeRun(run, now)}. Open trace`);
    const icon = span('status-icon', STATUS_ICONS[run.status]);
    icon.setAttribute('aria-hidden', 'true');
    const title = document.createElement('span');
    title.className = 'run-title';
    // A child run says so: "↳ sales", handed off by the run its trace links to.
    const name = span('runbook', run.parent ? `↳ ${run.runbook}` : run.runbook);
    if (run.parent) name.title = `Handed off by run ${run.parent.runId} (step ${run.parent.stepId})`;
    title.append(icon, name, span('status-word', STATUS_LABELS[run.status]));
    const duration = span('duration', formatMs(runDurationMs(run, now)));
    if (!run.endedAt) duration.dataset.startedAt = run.startedAt;
    const meta = document.createElement('span');
    meta.className = 'run-meta';
    const step = run.currentStep ? `${run.currentStep} · ` : '';
    meta.append(`${step}${run.stepsDone}/${run.stepsTotal} steps · ${formatUsd(run.costUsd)} · `, duration);
    open.append(title, meta);
    const why = run.escalation ?? run.error;
    if (why) {
      // One line in the list (the trace has it all); the whole text on hover.
      const line = span('run-why', why);
      line.title = why;
      open.append(line);
    }
    open.addEventListener('click', () => this.post({ type: 'showRunTrace', id: run.id }));
    item.append(open);
    if (canTakeOver(run.status))
      item.append(this.action(run, 'takeOverRun', 'Take over…', 'Take over run of'));
    if (run.status === 'waiting_operator')
      item.append(this.action(run, 'answerCheckpoint', 'Checkpoint…', 'Answer the checkpoint of'));
    if (canCancel(run.status)) {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'secondary cancel';
      cancel.textContent = 'Cancel';
      cancel.dataset.focusKey = `cancel:${run.id}`;
      cancel.setAttribute('aria-label', `Cancel run of ${run.runbook}`);
      cancel.addEventListener('click', () => this.post({ type: 'cancelRun', id: run.id }));
      item.append(cancel);
    }
    return item;
  }

  /** A button acting on one run (Take over…, Checkpoint…), keyboard-focusable like Cancel. */
  private action(
    run: RunSummary,
    type: 'takeOverRun' | 'answerCheckpoint',
    text: string,
    label: string,
  ): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = text;
    button.dataset.focusKey = `${type}:${run.id}`;
    button.setAttribute('aria-label', `${label} ${run.runbook}`);
    button.addEventListener('click', () => this.post({ type, id: run.id }));
    return button;
  }
}

/**
 * Rebuilds part of the page and puts keyboard focus back on the same control, found by its
 * `data-focus-key`; a Cancel button that went away (the run ended) hands focus to its run.
 */
export function keepFocus(container: HTMLElement, rebuild: () => void): void {
  const active = document.activeElement as HTMLElement | null;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  rebuild();
  if (!key) return;
  const target = key.slice(key.indexOf(':') + 1);
  for (const candidate of [key, `open:${target}`]) {
    const element = container.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(candidate)}"]`);
    if (element) {
      element.focus({ preventScroll: true });
      return;
    }
  }
}

export function section(name: string, title: string): HTMLElement {
  const element = document.createElement('section');
  element.className = name;
  element.setAttribute('aria-labelledby', `${name}-title`);
  const header = document.createElement('div');
  header.className = 'section-header';
  const heading = document.createElement('h2');
  heading.id = `${name}-title`;
  heading.textContent = title;
  header.append(heading);
  element.append(header);
  return element;
}

export function listElement(tag: 'ul' | 'ol', className: string, label: string): HTMLElement {
  const list = document.createElement(tag);
  list.className = className;
  list.setAttribute('aria-label', label);
  return list;
}

export function note(): HTMLElement {
  const p = document.createElement('p');
  p.className = 'muted';
  p.hidden = true;
  return p;
}

export function span(className: string, text: string): HTMLElement {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function smallButton(text: string, label: string, onClick: () => void): HTMLElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'icon';
  b.textContent = text;
  b.title = label;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}
