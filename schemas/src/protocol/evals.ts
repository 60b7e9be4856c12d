/** `keel/evals/*`: graded runbook cases run live (`keel eval`), their stored results, and drift. */
import { z } from 'zod';
import { defineNotification, defineRequest, lazy } from './define';

/** One check of one case, as graded. */
export const EvalCheckResult = lazy(() =>
  z.object({
    /** `contains`, `rubric`, ...: the kind of check. */
    kind: z.string(),
    passed: z.boolean(),
    /** 1 or 0 for a deterministic check; the judge's score for a rubric. */
    score: z.number(),
    /** Why it failed, or the judge's reasoning for a rubric; null for a deterministic pass. */
    detail: z.string().nullable(),
  }),
);
export type EvalCheckResult = z.infer<typeof EvalCheckResult>;

/** One run of one case (a `--repeat` gives several), as stored in `eval_results`. */
export const EvalCaseResult = lazy(() =>
  z.object({
    runbook: z.string(),
    case: z.string(),
    tier: z.string(),
    /** 0 for the first run of the case; `--repeat 3` gives 0, 1, 2. */
    repeat: z.number().int(),
    /** The model the endpoint reported answering (its `model` field), e.g. `gpt-4o-mini-2024-07-18`. */
    model: z.string().nullable(),
    passed: z.boolean(),
    /** The mean of the checks' scores, 0 to 1. */
    score: z.number(),
    status: z.string(),
    costUsd: z.number(),
    tokens: z.number(),
    latencyMs: z.number(),
    checks: z.array(EvalCheckResult.unwrap()),
    /** The judge's reasoning for each rubric check, in order (one text). */
    reasoning: z.string().nullable(),
  }),
);
export type EvalCaseResult = z.infer<typeof EvalCaseResult>;

/** A case that moved since the baseline: its score fell past the tolerance, or another model answered. */
export const EvalDriftCase = lazy(() =>
  z.object({
    case: z.string(),
    baselineScore: z.number(),
    score: z.number(),
    baselineModel: z.string().nullable(),
    model: z.string().nullable(),
  }),
);
export type EvalDriftCase = z.infer<typeof EvalDriftCase>;

export const EvalDrift = lazy(() =>
  z.object({
    runbook: z.string(),
    tier: z.string(),
    /** When the eval that drifted ran (ISO time). */
    at: z.string(),
    baselineAt: z.string(),
    tolerance: z.number(),
    cases: z.array(EvalDriftCase.unwrap()),
  }),
);
export type EvalDrift = z.infer<typeof EvalDrift>;

/** `keel/evals/run`: runs a runbook's `evals:` cases live, stores and returns the results. */
export const EvalRunRequest = defineRequest({
  method: 'keel/evals/run',
  params: lazy(() =>
    z.strictObject({
      runbook: z.string().min(1),
      /** The keel.yaml tier every model step uses; the runbook's own tiers when absent. */
      tier: z.string().min(1).optional(),
      repeat: z.number().int().min(1).max(20).default(1),
      /** Make this result set the runbook's baseline for the tier. */
      baseline: z.boolean().default(false),
    }),
  ),
  result: lazy(() =>
    z.object({
      at: z.string(),
      results: z.array(EvalCaseResult.unwrap()),
      /** Whether this set became the baseline (the first one does). */
      baseline: z.boolean(),
      drift: EvalDrift.unwrap().nullable(),
    }),
  ),
});

/** Per runbook and tier over the report's span: how its evals did. */
export const EvalSummaryRow = lazy(() =>
  z.object({
    runbook: z.string(),
    tier: z.string(),
    runs: z.number(),
    passRate: z.number(),
    meanScore: z.number(),
    costUsd: z.number(),
    tokens: z.number(),
    /** The model of the newest result. */
    model: z.string().nullable(),
    lastAt: z.string(),
    /** What one passing run cost: the spend over the passing runs; null when none passed. */
    costPerPassUsd: z.number().nullable().optional(),
    /** Mean time of one run, in milliseconds. */
    meanLatencyMs: z.number().optional(),
  }),
);
export type EvalSummaryRow = z.infer<typeof EvalSummaryRow>;

/** `keel/evals/report`: eval pass rate and cost per runbook and tier, and the drift found lately. */
export const EvalReportRequest = defineRequest({
  method: 'keel/evals/report',
  params: lazy(() =>
    z.strictObject({ since: z.string().optional(), until: z.string().optional() }).optional().default({}),
  ),
  result: lazy(() =>
    z.object({ rows: z.array(EvalSummaryRow.unwrap()), drift: z.array(EvalDrift.unwrap()) }),
  ),
});

/** `keel/evals/changed`: an eval finished (`keel eval` or its schedule), with the drift it found. */
export const EvalsChangedNotification = defineNotification({
  method: 'keel/evals/changed',
  direction: 'serverToClient',
  params: lazy(() =>
    z.object({ runbook: z.string(), tier: z.string(), drift: EvalDrift.unwrap().nullable() }),
  ),
});
