/**
 * A run's cost forecast before it starts: p50 and p95 of the runbook's newest finished runs at its
 * tier, capped at its budget (a run stops before it passes `budget.maxUsd`), or the budget itself
 * when there is no history. p95 is what keel.yaml's `approvals.costAbove` is compared with: the
 * cautious end of what such runs cost, so a run that is usually cheap but sometimes dear asks.
 */
import type { CostForecast } from '@keel/schemas';

export interface CostHistory {
  runs: number;
  p50: number | null;
  p95: number | null;
}

export interface ForecastInput {
  runbook: string;
  tier: string;
  budgetUsd: number;
  costAboveUsd: number | null;
  history: CostHistory;
}

export function forecastCost(input: ForecastInput): CostForecast {
  const { history, budgetUsd, costAboveUsd } = input;
  const known = history.runs > 0 && history.p50 !== null && history.p95 !== null;
  const p50 = known ? Math.min(clean(history.p50), budgetUsd) : null;
  const p95 = known ? Math.min(clean(history.p95), budgetUsd) : null;
  const expectedUsd = p95 ?? budgetUsd;
  const waits = costAboveUsd !== null && expectedUsd > costAboveUsd;
  const base = known
    ? `forecast ${usd(p50!)} (p50) to ${usd(p95!)} (p95) from ${history.runs} past run${history.runs === 1 ? '' : 's'} at tier ${input.tier}; budget ${usd(budgetUsd)}`
    : `forecast: no history at tier ${input.tier}, so up to the budget, ${usd(budgetUsd)}`;
  const gate =
    costAboveUsd === null
      ? ''
      : waits
        ? `; above approvals.costAbove (${usd(costAboveUsd)}): the run waits for your decision before its first step`
        : `; within approvals.costAbove (${usd(costAboveUsd)})`;
  return {
    runbook: input.runbook,
    tier: input.tier,
    runs: history.runs,
    p50Usd: p50,
    p95Usd: p95,
    budgetUsd,
    expectedUsd,
    basis: known ? 'history' : 'budget',
    costAboveUsd,
    waits,
    text: base + gate,
  };
}

/** What the operator reads at the run's `keel.forecast` checkpoint. */
export function costGateMessage(forecast: CostForecast): string {
  return (
    `The cost forecast of this run of ${forecast.runbook} is above keel.yaml's approvals.costAbove ` +
    `(${usd(forecast.costAboveUsd ?? 0)}): ${forecast.text.split('; above')[0]}. ` +
    'Continue to run it, or stop it (no step has run yet).'
  );
}

/** A cost from the store: a negative or non-finite one (a damaged row) counts as nothing. */
function clean(value: number | null): number {
  return value !== null && Number.isFinite(value) && value > 0 ? value : 0;
}

export function usd(value: number): string {
  return `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;
}
