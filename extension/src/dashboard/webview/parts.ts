/**
 * The Dashboard's sections that are plain HTML: quota meters, the at-a-glance figures, the agents
 * table, the spend table behind the chart, the runs to watch and the index. Every state is said in
 * words as well as colour.
 */
import type { IndexStatus, QuotaState, RunSummary } from '@keel/schemas';
import type { DashboardSnapshot } from '@keel/schemas/src/webviews';
import { formatUsd, STATUS_ICONS, STATUS_LABELS } from '../../runs/runList';
import { agentRows, quotaView, type SpendSeries } from '../dashboardModel';
import { element } from '../../webviewHost/webview/dom';

export function quotaMeters(quotas: readonly QuotaState[]): HTMLElement[] {
  if (quotas.length === 0) {
    return [element('p', 'muted', 'No quotas are set. Add them under quotas: in keel.yaml.')];
  }
  return quotas.map((quota) => {
    const view = quotaView(quota);
    const item = element('div', `quota ${view.severity}`);
    item.dataset.agent = quota.agent;
    item.dataset.state = quota.state;
    const title = element('div', 'quota-title');
    title.append(element('span', 'quota-agent', view.title), element('span', 'quota-text', view.text));
    const bar = element('div', 'meter');
    bar.setAttribute('role', 'meter');
    bar.setAttribute('aria-label', `${view.title}: ${view.text}. ${view.label}`);
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', String(Math.round(Math.min(view.share, 1) * 100)));
    const fill = element('div', 'meter-fill');
    fill.style.width = `${Math.min(view.share, 1) * 100}%`;
    bar.append(fill);
    item.append(title, bar, element('div', 'quota-label', view.label));
    return item;
  });
}

/** The few figures the operator looks at first. */
export function glance(s: DashboardSnapshot, active: number, failed: number, today: number): HTMLElement {
  const list = element('dl', 'glance');
  const rows: [string, string, string][] = [
    ['Spent today', formatUsd(today), 'spent-today'],
    [
      'Pending approvals',
      s.pendingApprovals === null ? '—' : String(s.pendingApprovals),
      'pending-approvals',
    ],
    ['Running', String(active), 'running-runs'],
    [`Failed, last ${s.days} days`, String(failed), 'failed-runs'],
  ];
  for (const [label, value, field] of rows) {
    const box = element('div', 'figure');
    const dd = element('dd', undefined, value);
    dd.dataset.field = field;
    box.append(element('dt', undefined, label), dd);
    list.append(box);
  }
  return list;
}

function table(caption: string, head: string[], rows: string[][], className: string): HTMLElement {
  const t = element('table', className);
  t.append(element('caption', 'visually-hidden', caption));
  const headRow = element('tr');
  head.forEach((h, i) => {
    const th = element('th', i === 0 ? undefined : 'num', h);
    th.scope = 'col';
    headRow.append(th);
  });
  const body = element('tbody');
  for (const row of rows) {
    const tr = element('tr');
    row.forEach((cell, i) => {
      const td = i === 0 ? element('th', undefined, cell) : element('td', 'num', cell);
      if (i === 0) td.scope = 'row';
      tr.append(td);
    });
    body.append(tr);
  }
  const thead = element('thead');
  thead.append(headRow);
  t.append(thead, body);
  // A wide table scrolls sideways in a narrow sidebar; the wrapper takes focus so the keys scroll it.
  const wrapper = element('div', 'table-scroll');
  wrapper.tabIndex = 0;
  wrapper.dataset.focusKey = `table:${className}`;
  wrapper.setAttribute('role', 'region');
  wrapper.setAttribute('aria-label', caption);
  wrapper.append(t);
  return wrapper;
}

export function agentsTable(s: DashboardSnapshot): HTMLElement {
  const rows = agentRows(s.report?.agents ?? []);
  if (rows.length === 0) return element('p', 'muted', `No runs in the last ${s.days} days.`);
  return table(
    `Agents over the last ${s.days} days`,
    ['Agent', 'Runs', 'Success', 'Errors', 'Rework', 'Reviewed', 'By policy', 'p50', 'p95', 'Cost'],
    rows.map((r) => [
      r.agent,
      String(r.runs),
      r.success,
      r.errors,
      r.rework,
      String(r.reviewed),
      String(r.byPolicy),
      r.p50,
      r.p95,
      r.cost,
    ]),
    'agents',
  );
}

/** The numbers behind the spend chart, the days with spend only. */
export function spendTable(spend: SpendSeries): HTMLElement {
  const days = spend.days.filter((_, i) => spend.agents.some((a) => (a.values[i] ?? 0) > 0));
  const rows = days.map((day) => {
    const i = spend.days.indexOf(day);
    return [day, ...spend.agents.map((a) => formatUsd(a.values[i] ?? 0))];
  });
  return rows.length === 0
    ? element('p', 'muted', 'No spend yet.')
    : table('Spend per agent per day', ['Day', ...spend.agents.map((a) => a.agent)], rows, 'spend');
}

export function runList(runs: readonly RunSummary[], empty: string, open: (id: string) => void): HTMLElement {
  const list = element('ol', 'watch-runs');
  if (runs.length === 0) list.append(element('li', 'muted', empty));
  for (const run of runs) {
    const item = element('li', 'watch-run');
    item.dataset.status = run.status;
    const button = element('button', 'link');
    button.type = 'button';
    button.dataset.focusKey = `run:${run.id}`;
    const when = new Date(run.startedAt).toLocaleString(undefined, {
      dateStyle: 'short',
      timeStyle: 'short',
    });
    button.append(
      element(
        'span',
        'run-title',
        `${STATUS_ICONS[run.status]} ${run.runbook}: ${STATUS_LABELS[run.status]}`,
      ),
      element('span', 'run-meta', `${when} · ${formatUsd(run.costUsd)}`),
    );
    if (run.error) button.append(element('span', 'run-error', run.error));
    button.setAttribute(
      'aria-label',
      `Open the trace of ${run.runbook}, ${STATUS_LABELS[run.status]}, started ${when}`,
    );
    button.addEventListener('click', () => open(run.id));
    item.append(button);
    list.append(item);
  }
  return list;
}

export function indexHealth(index: IndexStatus | null): HTMLElement {
  if (!index) return element('p', 'muted', 'The index reports once the daemon runs.');
  const list = element('dl', 'index');
  const state =
    index.progress?.phase === 'indexing' && index.progress.total > 0
      ? `indexing ${index.progress.done} of ${index.progress.total}`
      : index.state;
  const rows: [string, string, string][] = [
    ['State', state, 'index-state'],
    ['Notes', index.documents.toLocaleString(), 'index-documents'],
    ['Chunks', index.chunks.toLocaleString(), 'index-chunks'],
    ['Waiting', `${index.pending} changed file(s)`, 'index-pending'],
    ['Problems', index.problems.length === 0 ? 'none' : `${index.problems.length} file(s)`, 'index-problems'],
    [
      'Last change',
      index.lastChangeAt ? new Date(index.lastChangeAt).toLocaleString() : 'none yet',
      'index-last',
    ],
  ];
  for (const [label, value, field] of rows) {
    const dd = element('dd', undefined, value);
    dd.dataset.field = field;
    list.append(element('dt', undefined, label), dd);
  }
  if (index.recovery)
    list.append(element('dt', undefined, 'Repaired'), element('dd', undefined, index.recovery));
  return list;
}
