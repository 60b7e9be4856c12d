/**
 * Budget advice (`keel report --advice`, the dashboard's Budget advice card): agents ranked by what
 * a successful run costs them and by rework, and, for runs a spend quota refused, which other
 * agent's unused quota of the same period would have covered them.
 */
import { z } from 'zod';
import { defineRequest, lazy } from './define';

export const AgentAdvice = lazy(() =>
  z.object({
    /** The runbook's name. */
    agent: z.string(),
    role: z.string().nullable(),
    runs: z.number().int(),
    succeeded: z.number().int(),
    costUsd: z.number(),
    /** Spend of the span / its successful runs; null when none succeeded (then all spend was waste). */
    costPerSuccessUsd: z.number().nullable(),
    /** The operator's decisions edited or rejected / decided (0..1), null without decisions. */
    reworkRate: z.number().nullable(),
  }),
);
export type AgentAdvice = z.infer<typeof AgentAdvice>;

/** Runs a quota refused in its current period, and the quota that could have paid for them. */
export const QuotaMove = lazy(() =>
  z.object({
    /** The quota's agent (a runbook or a role) whose runs were refused. */
    agent: z.string(),
    period: z.enum(['day', 'month']),
    refused: z.number().int().positive(),
    /** What the refused runs would likely have cost: each runbook's p50, or its budget without history. */
    neededUsd: z.number(),
    /** The agent whose unused quota covers `neededUsd`, or null when none does. */
    from: z.string().nullable(),
    /** Its unused quota in the period (maxUsd − spent). */
    unusedUsd: z.number().nullable(),
    text: z.string(),
  }),
);
export type QuotaMove = z.infer<typeof QuotaMove>;

export const BudgetAdvice = lazy(() =>
  z.object({
    since: z.string(),
    until: z.string(),
    /** Dearest first: cost per successful run (no success at all first), then rework. */
    agents: z.array(AgentAdvice.unwrap()),
    moves: z.array(QuotaMove.unwrap()),
  }),
);
export type BudgetAdvice = z.infer<typeof BudgetAdvice>;

/** `keel/metrics/advice`: budget advice over a span (default the last 30 days). */
export const BudgetAdviceRequest = defineRequest({
  method: 'keel/metrics/advice',
  params: lazy(() =>
    z
      .strictObject({
        /** ISO date or date-time; default 30 days ago. */
        since: z.string().optional(),
        until: z.string().optional(),
      })
      .optional()
      .default({}),
  ),
  result: BudgetAdvice,
});
