/**
 * Drift: an eval compared with its runbook's baseline for the tier. A case drifted when its mean
 * score (over its repeats) fell below the baseline's by more than the tolerance, or when the
 * endpoint reports another model for it than it did for the baseline (a provider's silent update).
 */
import type { EvalCaseResult, EvalDrift, EvalDriftCase } from '@keel/schemas';

interface CaseSummary {
  score: number;
  /** The model of its newest repeat. */
  model: string | null;
}

export function findDrift(options: {
  runbook: string;
  tier: string;
  at: string;
  baselineAt: string;
  tolerance: number;
  baseline: readonly EvalCaseResult[];
  current: readonly EvalCaseResult[];
}): EvalDrift | null {
  const before = byCase(options.baseline);
  const cases: EvalDriftCase[] = [];
  for (const [name, now] of byCase(options.current)) {
    const then = before.get(name);
    if (!then) continue; // a case added since the baseline has nothing to drift from
    // A small epsilon: a fall of exactly the tolerance is within it, whatever the float rounding.
    const fell = now.score < then.score - options.tolerance - 1e-9;
    const otherModel = then.model !== null && now.model !== null && then.model !== now.model;
    if (fell || otherModel) {
      cases.push({
        case: name,
        baselineScore: then.score,
        score: now.score,
        baselineModel: then.model,
        model: now.model,
      });
    }
  }
  if (cases.length === 0) return null;
  return {
    runbook: options.runbook,
    tier: options.tier,
    at: options.at,
    baselineAt: options.baselineAt,
    tolerance: options.tolerance,
    cases,
  };
}

function byCase(results: readonly EvalCaseResult[]): Map<string, CaseSummary> {
  const grouped = new Map<string, EvalCaseResult[]>();
  for (const result of results) grouped.set(result.case, [...(grouped.get(result.case) ?? []), result]);
  return new Map(
    [...grouped].map(([name, runs]) => [
      name,
      {
        score: runs.reduce((sum, r) => sum + r.score, 0) / runs.length,
        model: [...runs].sort((a, b) => a.repeat - b.repeat).at(-1)!.model,
      },
    ]),
  );
}

/** What changed, one line per case, for alerts, reports and the dashboard. */
export function driftLines(drift: EvalDrift): string[] {
  return drift.cases.map((c) => {
    const parts: string[] = [];
    if (c.score !== c.baselineScore)
      parts.push(`score ${c.baselineScore.toFixed(2)} → ${c.score.toFixed(2)}`);
    if (c.model !== c.baselineModel) parts.push(`model ${c.baselineModel ?? '-'} → ${c.model ?? '-'}`);
    return `${c.case}: ${parts.join(', ')}`;
  });
}
