/**
 * What the Dashboard shows, in numbers and words: the metrics report shaped into chart series and
 * table rows, quota states into labels, the runs worth a look. Pure (no DOM, no VS Code), shared by
 * the extension host and the dashboard's browser script, and unit-tested.
 */
// Types only: the dashboard's browser bundle must not pull in zod.
import type {
  AgentMetrics,
  ControlState,
  EvalDrift,
  EvalSummaryRow,
  QuotaState,
  RunSummary,
} from '@keel/schemas';
import type { MetricsReport } from '@keel/schemas/src/webviews';
import { formatMs, formatUsd } from '../runs/runList';

export const DASHBOARD_DAYS = 14;
const DAY_MS = 86_400_000;

export interface SpendSeries {
  /** One label per day (YYYY-MM-DD), oldest first. */
  days: string[];
  /** One series per agent, the biggest spender first; `values` line up with `days`. */
  agents: { agent: string; values: number[]; totalUsd: number }[];
  totalUsd: number;
}

/**
 * Spend per agent per day over the `count` days ending today (or on the last day with spend, should
 * the daemon's days run ahead of the host's clock), with days without spend as zero.
 */
export function spendSeries(
  spendByDay: MetricsReport['spendByDay'],
  today: string,
  count = DASHBOARD_DAYS,
): SpendSeries {
  const last = spendByDay.reduce((max, row) => (row.day > max ? row.day : max), today);
  const end = Date.parse(`${last}T00:00:00Z`);
  const days = Array.from({ length: count }, (_, i) =>
    new Date(end - (count - 1 - i) * DAY_MS).toISOString().slice(0, 10),
  );
  const byAgent = new Map<string, number[]>();
  for (const row of spendByDay) {
    const index = days.indexOf(row.day);
    if (index < 0) continue;
    const values = byAgent.get(row.agent) ?? days.map(() => 0);
    values[index] = (values[index] ?? 0) + row.costUsd;
    byAgent.set(row.agent, values);
  }
  const agents = [...byAgent.entries()]
    .map(([agent, values]) => ({ agent, values, totalUsd: sum(values) }))
    .sort((a, b) => b.totalUsd - a.totalUsd || a.agent.localeCompare(b.agent));
  return { days, agents, totalUsd: sum(agents.map((a) => a.totalUsd)) };
}

/** YYYY-MM-DD in local time: the day a quota's `today` means. */
export function localDay(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The spend chart in one sentence, for screen readers. */
export function describeSpend(series: SpendSeries): string {
  const span = `the last ${series.days.length} days`;
  if (series.agents.length === 0) return `No spend in ${span}.`;
  const parts = series.agents.map((a) => `${a.agent} ${formatUsd(a.totalUsd)}`);
  return `Spend per agent over ${span}: ${parts.join(', ')}; ${formatUsd(series.totalUsd)} in all.`;
}

export type QuotaSeverity = QuotaState['state'];

export interface QuotaView {
  /** `content, today` or `Operations, this month`. */
  title: string;
  /** How much of the quota is used (0..1, may pass 1), by whichever limit is nearer. */
  share: number;
  /** `$0.04 of $0.05 (80%)`, with tokens too when the quota limits them. */
  text: string;
  /** The state in words; never colour alone. */
  label: string;
  severity: QuotaSeverity;
}

export const QUOTA_LABELS: Record<QuotaSeverity, string> = {
  ok: 'Within quota',
  warning: 'Warning: nearly used up',
  exceeded: 'Exceeded: new runs are refused',
};

export function quotaView(quota: QuotaState): QuotaView {
  const usd = quota.maxUsd ? quota.spentUsd / quota.maxUsd : null;
  const tokens = quota.maxTokens ? quota.tokens / quota.maxTokens : null;
  const share = Math.max(usd ?? 0, tokens ?? 0);
  const parts: string[] = [];
  if (quota.maxUsd !== null) parts.push(`${formatUsd(quota.spentUsd)} of ${formatUsd(quota.maxUsd)}`);
  if (quota.maxTokens !== null)
    parts.push(
      `${quota.tokens.toLocaleString('en-US')} of ${quota.maxTokens.toLocaleString('en-US')} tokens`,
    );
  if (parts.length === 0) parts.push(formatUsd(quota.spentUsd));
  return {
    title: `${quota.agent}, ${quota.period === 'day' ? 'today' : 'this month'}`,
    share,
    text: `${parts.join(' · ')} (${formatPercent(share)})`,
    label: QUOTA_LABELS[quota.state],
    severity: quota.state,
  };
}

export function formatPercent(share: number | null): string {
  if (share === null) return '—';
  // A sliver of a quota is not nothing.
  if (share > 0 && share < 0.005) return '<1%';
  return `${Math.round(share * 100)}%`;
}

/**
 * Whether any of the agent's runs finished: a run waiting for approval counts as a run, but its
 * rates are 0 of 0 and say nothing yet. (Finished runs that were all cancelled read as none too.)
 */
function hasFinished(a: AgentMetrics): boolean {
  return a.succeeded + a.failed > 0 || a.successRate > 0 || a.errorRate > 0;
}

export interface AgentRow {
  agent: string;
  role: string | null;
  runs: number;
  success: string;
  errors: string;
  rework: string;
  /** Changes the operator approved, edited or rejected. */
  reviewed: number;
  /** Changes a keel.yaml approvals rule applied without review: never counted as reviewed. */
  byPolicy: number;
  p50: string;
  p95: string;
  cost: string;
}

/** The per-agent table: the payroll view, and the text behind the rate and latency charts. */
export function agentRows(agents: readonly AgentMetrics[]): AgentRow[] {
  return sortAgents(agents).map((a) => {
    const finished = hasFinished(a);
    return {
      agent: a.agent,
      role: a.role,
      runs: a.runs,
      success: finished ? formatPercent(a.successRate) : '—',
      errors: finished ? formatPercent(a.errorRate) : '—',
      rework: formatPercent(a.reworkRate),
      reviewed: a.approvals.approved + a.approvals.edited + a.approvals.rejected,
      byPolicy: a.approvals.policy,
      p50: a.p50Ms === null ? '—' : formatMs(a.p50Ms),
      p95: a.p95Ms === null ? '—' : formatMs(a.p95Ms),
      cost: formatUsd(a.costUsd),
    };
  });
}

export interface BarSeries {
  labels: string[];
  /** Values line up with `labels`; null where there is nothing to show (no decisions, no runs). */
  series: { name: string; values: (number | null)[] }[];
}

/** The spend chart's bars: days (MM-DD) along the axis, one stacked series per agent. */
export function spendBars(spend: SpendSeries): BarSeries {
  return {
    labels: spend.days.map((day) => day.slice(5)),
    series: spend.agents.map((a) => ({ name: a.agent, values: a.values })),
  };
}

/** Success and rework rates per agent, in percent. */
export function rateSeries(agents: readonly AgentMetrics[]): BarSeries {
  const sorted = sortAgents(agents);
  const percent = (rate: number | null): number | null =>
    rate === null ? null : Math.round(rate * 1000) / 10;
  return {
    labels: sorted.map((a) => a.agent),
    series: [
      { name: 'Success rate', values: sorted.map((a) => (hasFinished(a) ? percent(a.successRate) : null)) },
      { name: 'Rework rate', values: sorted.map((a) => percent(a.reworkRate)) },
    ],
  };
}

/** Run latency per agent, p50 and p95, in seconds. */
export function latencySeries(agents: readonly AgentMetrics[]): BarSeries {
  const sorted = sortAgents(agents);
  const seconds = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 100) / 10);
  return {
    labels: sorted.map((a) => a.agent),
    series: [
      { name: 'p50', values: sorted.map((a) => seconds(a.p50Ms)) },
      { name: 'p95', values: sorted.map((a) => seconds(a.p95Ms)) },
    ],
  };
}

/** A bar chart in one sentence: `Success rate and Rework rate per agent: content 100% and 0%; …`. */
export function describeBars(series: BarSeries, unit: (value: number) => string, what: string): string {
  if (series.labels.length === 0) return `No ${what} yet.`;
  const names = series.series.map((s) => s.name).join(' and ');
  const rows = series.labels.map((label, i) => {
    const values = series.series.map((s) => {
      const value = s.values[i];
      return value === null || value === undefined ? 'none' : unit(value);
    });
    return `${label} ${values.join(' and ')}`;
  });
  return `${names} per agent: ${rows.join('; ')}.`;
}

const ACTIVE: readonly RunSummary['status'][] = ['queued', 'running', 'waiting_approval', 'waiting_operator'];
const FAILED: readonly RunSummary['status'][] = ['failed', 'budget_exceeded'];

/** The runs to look at: those under way, and the most recent that failed. */
export function runsToWatch(
  runs: readonly RunSummary[],
  limit = 5,
): { active: RunSummary[]; failed: RunSummary[] } {
  const recentFirst = [...runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return {
    active: recentFirst.filter((r) => ACTIVE.includes(r.status)),
    failed: recentFirst.filter((r) => FAILED.includes(r.status)).slice(0, limit),
  };
}

/** `Stopped since 14:32 (reason)`, or null when nothing is stopped. */
export function stopBanner(control: ControlState | null, formatTime: (iso: string) => string): string | null {
  if (!control?.stopped) return null;
  const since = control.stoppedAt ? ` since ${formatTime(control.stoppedAt)}` : '';
  const reason = control.reason ? ` (${control.reason})` : '';
  return `Stopped${since}${reason}. No run executes and none starts until you resume.`;
}

/** Breakers that refuse calls now, in words. */
export function breakerWarnings(control: ControlState | null, formatTime: (iso: string) => string): string[] {
  return (control?.breakers ?? [])
    .filter((b) => b.state !== 'closed')
    .map((b) =>
      b.name.startsWith('connector:')
        ? `${b.name}: open, its actions are refused (${b.reason ?? 'drift probe failed'}); ` +
          `"keel connectors check ${b.name.slice('connector:'.length)}" closes it once the probe passes.`
        : b.state === 'open'
          ? `${b.name}: open after ${b.failures} failures in a row; calls are refused${b.retryAt ? ` until ${formatTime(b.retryAt)}` : ''}.`
          : `${b.name}: trying again (half open) after ${b.failures} failures.`,
    );
}

/**
 * One line per runbook and tier whose newest eval drifted from its baseline, naming the cases that
 * changed; drift an eval since then no longer shows is gone (the operator fixed it, or re-based).
 */
export function evalDriftWarnings(
  evals: { rows: readonly EvalSummaryRow[]; drift: readonly EvalDrift[] } | null,
  formatTime: (iso: string) => string,
): string[] {
  if (!evals) return [];
  const newest = new Map(evals.rows.map((r) => [`${r.runbook}\u0000${r.tier}`, r.lastAt]));
  return evals.drift
    .filter((d) => newest.get(`${d.runbook}\u0000${d.tier}`) === d.at)
    .map((d) => {
      const cases = d.cases.map((c) => {
        const changes: string[] = [];
        if (c.score !== c.baselineScore)
          changes.push(`score ${c.baselineScore.toFixed(2)} → ${c.score.toFixed(2)}`);
        if (c.model !== c.baselineModel) changes.push(`model ${c.baselineModel ?? '-'} → ${c.model ?? '-'}`);
        return `${c.case} (${changes.join(', ')})`;
      });
      return (
        `${d.runbook} on ${d.tier} drifted from its baseline at ${formatTime(d.at)}: ${cases.join('; ')}. ` +
        `"keel eval ${d.runbook} --tier ${d.tier} --baseline" accepts it as the new baseline.`
      );
    });
}

function sortAgents(agents: readonly AgentMetrics[]): AgentMetrics[] {
  return [...agents].sort((a, b) => b.costUsd - a.costUsd || a.agent.localeCompare(b.agent));
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
