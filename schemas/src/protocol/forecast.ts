/**
 * Cost forecasts: what a run of a runbook is likely to cost, from its past runs at its tier (p50
 * and p95) and its budget, before it starts. keel.yaml's `approvals.costAbove` makes a run whose
 * forecast is above it wait for the operator before its first step.
 */
import { z } from 'zod';
import { defineRequest, lazy } from './define';

export const CostForecast = lazy(() =>
  z.object({
    runbook: z.string(),
    /** The runbook's model tier: history at another tier is not counted. */
    tier: z.string(),
    /** Past finished runs the forecast is computed from (the newest ones, at most `HISTORY_LIMIT`). */
    runs: z.number().int().nonnegative(),
    /** Median cost of those runs, in US dollars; null without history. */
    p50Usd: z.number().nullable(),
    /** 95th percentile, capped at the budget (a run stops before passing it); null without history. */
    p95Usd: z.number().nullable(),
    /** The runbook's `budget.maxUsd`: the most one run can spend. */
    budgetUsd: z.number(),
    /**
     * What is compared with `costAbove`: p95 with history (the cautious end of what runs cost),
     * the budget without (nothing better is known).
     */
    expectedUsd: z.number(),
    basis: z.enum(['history', 'budget']),
    /** keel.yaml's `approvals.costAbove`, or null when runs never wait for their cost. */
    costAboveUsd: z.number().nullable(),
    /** Whether a run started now waits for the operator before its first step. */
    waits: z.boolean(),
    /** One line for people: `forecast $0.0120 (p50) / $0.0300 (p95) from 12 past runs at tier fast; budget $0.50`. */
    text: z.string(),
  }),
);
export type CostForecast = z.infer<typeof CostForecast>;

/** `keel/runs/forecast`: a runbook's cost forecast, as a run started now would be gated by it. */
export const RunForecastRequest = defineRequest({
  method: 'keel/runs/forecast',
  params: lazy(() => z.strictObject({ runbook: z.string().min(1).max(200) })),
  result: CostForecast,
});

/** How many of a runbook's newest finished runs a forecast reads: a long history stays quick. */
export const FORECAST_HISTORY_LIMIT = 200;

/** The step id a run waits at for its cost forecast: a runbook's own step ids cannot contain a dot. */
export const COST_GATE_STEP = 'keel.forecast';
