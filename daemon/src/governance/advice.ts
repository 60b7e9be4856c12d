/**
 * Budget advice: which agents cost the most per successful run and need the most rework, and where
 * moving spend quota from one agent to another would have covered the runs a quota refused in its
 * current period. Pure: the conductor hands it the metrics, the quotas and the refusals.
 */
import type { AgentAdvice, AgentMetrics, BudgetAdvice, QuotaMove, QuotaState } from '@keel/schemas';
import type { RefusalRow } from '../conductor/traceStore';
import { periodStart } from './quotas';

export interface AdviceInput {
  since: string;
  until: string;
  agents: readonly AgentMetrics[];
  quotas: readonly QuotaState[];
  refusals: readonly RefusalRow[];
  now: Date;
}

export function budgetAdvice(input: AdviceInput): BudgetAdvice {
  return {
    since: input.since,
    until: input.until,
    agents: rankAgents(input.agents),
    moves: quotaMoves(input.quotas, input.refusals, input.now),
  };
}

/** Dearest first: spend with no success at all, then cost per successful run, then rework. */
export function rankAgents(agents: readonly AgentMetrics[]): AgentAdvice[] {
  const ranked = agents
    .filter((a) => a.runs > 0)
    .map((a): AgentAdvice => ({
      agent: a.agent,
      role: a.role,
      runs: a.runs,
      succeeded: a.succeeded,
      costUsd: a.costUsd,
      costPerSuccessUsd: a.succeeded > 0 ? round(a.costUsd / a.succeeded) : null,
      reworkRate: a.reworkRate,
    }));
  const dearness = (a: AgentAdvice): number =>
    a.costPerSuccessUsd ?? (a.costUsd > 0 ? Number.POSITIVE_INFINITY : 0);
  return ranked.sort(
    (a, b) =>
      dearness(b) - dearness(a) ||
      (b.reworkRate ?? 0) - (a.reworkRate ?? 0) ||
      a.agent.localeCompare(b.agent),
  );
}

/** For each quota that refused runs in its current period, the quota whose unused part covers them. */
export function quotaMoves(
  quotas: readonly QuotaState[],
  refusals: readonly RefusalRow[],
  now: Date,
): QuotaMove[] {
  const groups = new Map<string, { agent: string; period: QuotaState['period']; rows: RefusalRow[] }>();
  for (const refusal of refusals) {
    if (refusal.at < periodStart(refusal.period, now).toISOString()) continue;
    const key = `${refusal.period}\u0000${refusal.agent}`;
    const group = groups.get(key) ?? { agent: refusal.agent, period: refusal.period, rows: [] };
    group.rows.push(refusal);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ agent, period, rows }) => {
    const neededUsd = round(rows.reduce((sum, r) => sum + r.forecastUsd, 0));
    const refusedRunbooks = new Set(rows.map((r) => r.runbook));
    const donors = quotas
      .filter((q) => q.period === period && q.agent !== agent && !refusedRunbooks.has(q.agent))
      .filter((q) => q.maxUsd !== null && q.state !== 'exceeded')
      .map((q) => ({ agent: q.agent, unusedUsd: round(Math.max(0, q.maxUsd! - q.spentUsd)) }))
      .sort((a, b) => b.unusedUsd - a.unusedUsd || a.agent.localeCompare(b.agent));
    const best = donors[0] ?? null;
    const covers = best !== null && best.unusedUsd >= neededUsd;
    const runs = `${rows.length} refused run${rows.length === 1 ? '' : 's'}`;
    const quota = period === 'day' ? 'daily' : 'monthly';
    const when = period === 'day' ? 'today' : 'this month';
    const text = covers
      ? `moving ${usd(neededUsd)} of "${best.agent}"'s ${quota} quota (unused ${usd(best.unusedUsd)}) to "${agent}" ` +
        `would have covered its ${runs} ${when} (about ${usd(neededUsd)} by their forecasts)`
      : `"${agent}" had ${runs} ${when} (about ${usd(neededUsd)} by their forecasts); ` +
        (best
          ? `no other ${quota} quota had that much unused (the most: "${best.agent}", ${usd(best.unusedUsd)}): raise "${agent}"'s quota in keel.yaml`
          : `no other agent has a ${quota} quota in dollars to move from: raise "${agent}"'s quota in keel.yaml`);
    return {
      agent,
      period,
      refused: rows.length,
      neededUsd,
      from: covers ? best.agent : null,
      unusedUsd: covers ? best.unusedUsd : null,
      text,
    };
  });
}

function usd(value: number): string {
  return `$${value.toFixed(4)}`;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
