/**
 * The Dashboard webview's script (runs in the browser, not in Node): the emergency stop at the top,
 * then spend against quota, the figures at a glance, spend per agent over time, the agents' rates and
 * latency, the runs to watch and the index. The page is built once; each snapshot updates its
 * sections in place, and focus stays where the operator left it.
 */
import type {
  DashboardSnapshot,
  DashboardToHostMessage,
  HostToDashboardMessage,
} from '@keel/schemas/src/webviews';
import {
  breakerWarnings,
  evalDriftWarnings,
  describeBars,
  describeSpend,
  latencySeries,
  rateSeries,
  runsToWatch,
  spendBars,
  spendSeries,
  stopBanner,
} from '../dashboardModel';
import { formatUsd } from '../../runs/runList';
import { BarChart } from './charts';
import { agentsTable, glance, indexHealth, quotaMeters, runList, spendTable } from './parts';
import { element } from '../../webviewHost/webview/dom';
import { budgetAdviceCard } from './budgetAdvice';
import { staleRunList } from './staleRuns';
import { announceReady } from '../../webviewHost/webview/ready';

interface VsCodeApi {
  postMessage(message: DashboardToHostMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: DashboardToHostMessage): void => vscode.postMessage(message);
const root = document.getElementById('dashboard') as HTMLElement;
const time = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const control = buildControl();
const notice = element('div', 'notice');
notice.setAttribute('role', 'status');
const sections = {
  quotas: section('quotas', 'Spend against quota'),
  glance: section('glance', 'At a glance'),
  breakers: section('breakers', 'Circuit breakers'),
  drift: section('drift', 'Eval drift'),
  spend: section('spend', 'Spend per agent'),
  agents: section('agents', 'Agents'),
  advice: section('advice', 'Budget advice'),
  rates: section('rates', 'Success and rework rates'),
  latency: section('latency', 'Run latency'),
  runs: section('runs', 'Running and failed runs'),
  stale: section('stale', 'Possibly stale outputs'),
  index: section('index', 'Memory index'),
};
const charts = {
  spend: new BarChart('spend-chart', { stacked: true, horizontal: false, format: formatUsd }),
  rates: new BarChart('rates-chart', { stacked: false, horizontal: true, format: (v) => `${v}%`, max: 100 }),
  latency: new BarChart('latency-chart', { stacked: false, horizontal: true, format: (v) => `${v} s` }),
};
/** Kept across renders, so that an opened table stays open. */
const spendDetails = element('details', 'spend-details');
const spendTableHolder = element('div');
spendDetails.append(element('summary', undefined, 'Spend as a table'), spendTableHolder);
sections.spend.body.append(charts.spend.element, spendDetails);
sections.rates.body.append(charts.rates.element);
sections.latency.body.append(charts.latency.element);
let snapshot: DashboardSnapshot | null = null;
let busy: 'stopping' | 'resuming' | null = null;
/**
 * The operator pressed Emergency Stop or Resume here and waits for the answer: when it comes, that
 * button gives way to the other, which takes the keyboard focus. Only then: a stop from the palette
 * must not pull the focus into the webview (it would steal it from wherever the operator is).
 */
let pressed = false;
/** The stop state shown last; null before the first. */
let shownStopped: boolean | null = null;

root.replaceChildren(control.element, notice, ...Object.values(sections).map((s) => s.element));
root.removeAttribute('aria-busy');

window.addEventListener('message', (event: MessageEvent<HostToDashboardMessage>) => {
  const message = event.data;
  if (message?.type === 'snapshot') {
    snapshot = message.snapshot;
    render(snapshot);
  } else if (message?.type === 'busy') {
    busy = message.action;
    if (snapshot) renderControl(snapshot);
    // Done, or cancelled in the confirmation: a later change is not an answer to the press.
    if (busy === null) pressed = false;
  }
});
// A theme change restyles the page (body class, html style): redraw the charts in its colours.
new MutationObserver(() => Object.values(charts).forEach((chart) => chart.restyle())).observe(document.body, {
  attributes: true,
  attributeFilter: ['class'],
});
announceReady(post);

function section(id: string, title: string): { element: HTMLElement; body: HTMLElement } {
  const element_ = element('section', `section ${id}`);
  element_.id = `section-${id}`;
  const heading = element('h2', undefined, title);
  heading.id = `heading-${id}`;
  element_.setAttribute('aria-labelledby', heading.id);
  const body = element('div', 'section-body');
  element_.append(heading, body);
  return { element: element_, body };
}

function buildControl(): {
  element: HTMLElement;
  state: HTMLElement;
  stop: HTMLButtonElement;
  resume: HTMLButtonElement;
} {
  const header = element('header', 'control');
  header.setAttribute('role', 'region');
  header.setAttribute('aria-label', 'Emergency stop');
  const state = element('p', 'control-state');
  state.setAttribute('role', 'status');
  state.dataset.field = 'control-state';
  const stop = element('button', 'danger', 'Emergency Stop');
  stop.type = 'button';
  stop.id = 'emergency-stop';
  stop.title = 'Halt every run now; nothing starts until you resume';
  stop.addEventListener('click', () => {
    if (stop.getAttribute('aria-disabled') === 'true') return;
    pressed = true;
    post({ type: 'emergencyStop' });
  });
  const resume = element('button', 'primary', 'Resume');
  resume.type = 'button';
  resume.id = 'resume';
  resume.addEventListener('click', () => {
    if (resume.getAttribute('aria-disabled') === 'true') return;
    pressed = true;
    post({ type: 'resume' });
  });
  header.append(state, stop, resume);
  return { element: header, state, stop, resume };
}

function render(s: DashboardSnapshot): void {
  const focused = document.activeElement as HTMLElement | null;
  const focusKey = focused?.dataset.focusKey;
  root.dataset.connection = s.connection;
  renderControl(s);
  renderNotice(s);
  const running = s.connection === 'running';
  for (const part of Object.values(sections)) part.element.hidden = !running;
  if (running) renderSections(s);
  // A re-rendered list replaced the button that had focus: give focus to its successor.
  if (focusKey && !focused?.isConnected && document.hasFocus()) {
    root.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }
}

function renderControl(s: DashboardSnapshot): void {
  const stopped = s.control?.stopped ?? false;
  control.element.dataset.stopped = String(stopped);
  control.state.textContent =
    busy === 'stopping'
      ? 'Stopping every run…'
      : busy === 'resuming'
        ? 'Resuming…'
        : (stopBanner(s.control, time) ??
          (s.control ? 'Agents may run. Emergency Stop halts every run at once.' : ''));
  control.stop.hidden = stopped;
  control.resume.hidden = !stopped;
  // aria-disabled, not disabled: a disabled button drops the keyboard focus.
  const unavailable = String(busy !== null || s.connection !== 'running');
  control.stop.setAttribute('aria-disabled', unavailable);
  control.resume.setAttribute('aria-disabled', unavailable);
  // The pressed button gave way to the other one: keep the keyboard on the control.
  if (pressed && shownStopped !== null && shownStopped !== stopped) {
    pressed = false;
    (stopped ? control.resume : control.stop).focus();
  }
  shownStopped = stopped;
}

const CONNECTION_NOTES: Partial<Record<DashboardSnapshot['connection'], string>> = {
  noFolder: 'Open a Keel workspace to see its agents, spend and runs.',
  starting: 'The Keel daemon is starting…',
  restarting: 'The Keel daemon stopped unexpectedly and is restarting.',
  // Also a folder that is not a Keel workspace yet: no daemon runs for it until it is initialized.
  stopped:
    'The Keel daemon is not running. The Keel view starts it, or sets this folder up as a Keel workspace first.',
  failed: 'The Keel daemon failed. Run "Keel: Show Logs" to see why.',
};

function renderNotice(s: DashboardSnapshot): void {
  const text =
    CONNECTION_NOTES[s.connection] ?? (s.error ? `Some figures could not be fetched: ${s.error}` : '');
  notice.textContent = text;
  notice.hidden = text === '';
}

function renderSections(s: DashboardSnapshot): void {
  const spend = spendSeries(s.report?.spendByDay ?? [], s.today, s.days);
  const watch = runsToWatch(s.runs);
  const failedRecently = (s.report?.agents ?? []).reduce((n, a) => n + a.failed, 0);
  const todayIndex = spend.days.indexOf(s.today);
  const spentToday = spend.agents.reduce((n, a) => n + (a.values[todayIndex] ?? 0), 0);

  sections.quotas.body.replaceChildren(...quotaMeters(s.control?.quotas ?? []));
  const running = watch.active.filter(
    (r) => r.status !== 'waiting_approval' && r.status !== 'waiting_operator',
  ).length;
  sections.glance.body.replaceChildren(glance(s, running, failedRecently, spentToday));

  const breakers = breakerWarnings(s.control, time);
  sections.breakers.element.hidden = breakers.length === 0;
  sections.breakers.body.replaceChildren(...breakers.map((text) => element('p', 'breaker', text)));

  const drift = evalDriftWarnings(s.evals, time);
  sections.drift.element.hidden = drift.length === 0;
  sections.drift.body.replaceChildren(...drift.map((text) => element('p', 'breaker', text)));

  sections.spend.element.querySelector('h2')!.textContent = `Spend per agent, last ${s.days} days`;
  charts.spend.update(spendBars(spend), describeSpend(spend));
  spendTableHolder.replaceChildren(spendTable(spend));

  sections.agents.element.querySelector('h2')!.textContent = `Agents, last ${s.days} days`;
  sections.agents.body.replaceChildren(agentsTable(s));

  sections.advice.body.replaceChildren(...budgetAdviceCard(s.advice));

  const agents = s.report?.agents ?? [];
  const rates = rateSeries(agents);
  charts.rates.update(
    rates,
    describeBars(rates, (v) => `${v}%`, 'success or rework rates'),
  );
  const latency = latencySeries(agents);
  charts.latency.update(
    latency,
    describeBars(latency, (v) => `${v} s`, 'run latency'),
  );

  const open = (id: string): void => post({ type: 'showRunTrace', id });
  sections.runs.body.replaceChildren(
    element('h3', undefined, 'Running or waiting for approval'),
    runList(watch.active, 'Nothing is running.', open),
    element('h3', undefined, 'Failed recently'),
    runList(watch.failed, 'No recent failures.', open),
  );
  sections.stale.body.replaceChildren(
    staleRunList(s.staleRuns ?? [], time, open, (id) => post({ type: 'rerun', id })),
  );
  sections.index.body.replaceChildren(indexHealth(s.index));
}
