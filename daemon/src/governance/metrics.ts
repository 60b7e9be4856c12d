/** The metrics report: per agent and per connector over a span, from the runs and approvals in DuckDB. */
import type { AgentMetrics, ConnectorMetrics } from '@keel/schemas';
import type { LessonRow, TraceStore } from '../conductor/traceStore';

const DAY_MS = 86_400_000;

export interface MetricsReport {
  since: string;
  until: string;
  agents: AgentMetrics[];
  connectors: ConnectorMetrics[];
  spendByDay: { day: string; agent: string; costUsd: number; tokens: number }[];
}

/** A date (YYYY-MM-DD, local midnight) or a date-time; throws a clear message otherwise. */
export function parseWhen(value: string | undefined, fallback: Date, name: string): Date {
  if (value === undefined) return fallback;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00`) : new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new Error(`${name} "${value}" is not a date: give YYYY-MM-DD or an ISO date-time`);
  return date;
}

export async function metricsReport(
  traces: Pick<TraceStore, 'agentMetrics' | 'connectorMetrics' | 'lessonRework' | 'spendByDay'>,
  roleOf: (runbook: string) => string | null,
  span: { since?: string | undefined; until?: string | undefined },
  now = new Date(),
): Promise<MetricsReport> {
  const until = parseWhen(span.until, now, 'until');
  const since = parseWhen(span.since, new Date(until.getTime() - 30 * DAY_MS), 'since');
  const [rows, connectorRows, lessonRows, spendByDay] = await Promise.all([
    traces.agentMetrics(since.toISOString(), until.toISOString()),
    traces.connectorMetrics(since.toISOString(), until.toISOString()),
    traces.lessonRework(since.toISOString(), until.toISOString()),
    traces.spendByDay(since.toISOString(), until.toISOString()),
  ]);
  const lessons = new Map(lessonRows.map((row) => [row.runbook, row]));
  const hours = Math.max((until.getTime() - since.getTime()) / 3_600_000, 1 / 60);
  const agents = rows.map((row): AgentMetrics => {
    // Only the operator's decisions are reviews: changes a policy rule applied are counted apart.
    const decided = row.approved + row.edited + row.rejected;
    return {
      agent: row.runbook,
      role: roleOf(row.runbook),
      runs: row.runs,
      succeeded: row.succeeded,
      failed: row.failed,
      successRate: row.finished > 0 ? round(row.succeeded / row.finished) : 0,
      errorRate: row.finished > 0 ? round(row.failed / row.finished) : 0,
      p50Ms: row.p50Ms === null ? null : Math.round(row.p50Ms),
      p95Ms: row.p95Ms === null ? null : Math.round(row.p95Ms),
      costUsd: round(row.costUsd, 6),
      tokens: row.tokens,
      throughputPerHour: round(row.finished / hours),
      approvals: {
        approved: row.approved,
        edited: row.edited,
        rejected: row.rejected,
        policy: row.policy,
      },
      reworkRate: decided > 0 ? round((row.edited + row.rejected) / decided) : null,
      lessons: lessonsOf(lessons.get(row.runbook)),
    };
  });
  const connectors = connectorRows.map((row): ConnectorMetrics => ({
    connector: row.connector,
    actions: row.actions,
    succeeded: row.succeeded,
    failed: row.failed,
    open: row.open,
    undos: row.undos,
    approvals: { approved: row.approved, edited: row.edited, rejected: row.rejected },
  }));
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    agents,
    connectors,
    spendByDay: spendByDay.map((d) => ({ ...d, costUsd: round(d.costUsd, 6) })),
  };
}

function lessonsOf(row: LessonRow | undefined): AgentMetrics['lessons'] {
  if (!row) return null;
  return {
    since: row.firstLesson,
    reworkBefore: row.before > 0 ? round(row.reworkBefore / row.before) : null,
    reworkAfter: row.after > 0 ? round(row.reworkAfter / row.after) : null,
    decidedAfter: row.after,
  };
}

function round(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
