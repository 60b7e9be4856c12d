/**
 * Spend quotas per agent (a runbook, or a role several runbooks share) and period (day, month),
 * counted over the runs started in the current period: a warning past `warnAt`, then new runs of
 * that agent are refused. A run in flight is never stopped by a quota.
 */
import type { QuotaState, RunSummary, WorkspaceConfig } from '@keel/schemas';

export type Quota = WorkspaceConfig['quotas'][number];

/** Where the current period started, in local time. */
export function periodStart(period: Quota['period'], now: Date): Date {
  return period === 'day'
    ? new Date(now.getFullYear(), now.getMonth(), now.getDate())
    : new Date(now.getFullYear(), now.getMonth(), 1);
}

export function quotaStates(
  quotas: readonly Quota[],
  runs: readonly RunSummary[],
  roleOf: (runbook: string) => string | null,
  now = new Date(),
): QuotaState[] {
  return quotas.map((quota) => {
    const since = periodStart(quota.period, now).toISOString();
    let spentUsd = 0;
    let tokens = 0;
    for (const run of runs) {
      if (run.startedAt < since) continue;
      if (run.runbook !== quota.agent && roleOf(run.runbook) !== quota.agent) continue;
      spentUsd += run.costUsd;
      tokens += run.tokens;
    }
    const share = Math.max(
      quota.maxUsd ? spentUsd / quota.maxUsd : 0,
      quota.maxTokens ? tokens / quota.maxTokens : 0,
    );
    return {
      agent: quota.agent,
      period: quota.period,
      spentUsd: Math.round(spentUsd * 1e6) / 1e6,
      tokens,
      maxUsd: quota.maxUsd ?? null,
      maxTokens: quota.maxTokens ?? null,
      state: share >= 1 ? 'exceeded' : share >= quota.warnAt ? 'warning' : 'ok',
    };
  });
}

/** Why a new run of this runbook is refused by a quota, or null. */
export function quotaRefusal(
  states: readonly QuotaState[],
  runbook: string,
  role: string | null,
): string | null {
  const hit = quotaHit(states, runbook, role);
  if (!hit) return null;
  const spent =
    hit.maxUsd !== null
      ? `$${hit.spentUsd.toFixed(4)} of $${hit.maxUsd}`
      : `${hit.tokens} of ${hit.maxTokens} tokens`;
  return (
    `the ${hit.period === 'day' ? 'daily' : 'monthly'} quota of "${hit.agent}" is used up (${spent}); ` +
    `new runs are refused until the ${hit.period} ends, or raise quotas in keel.yaml`
  );
}

/** The used-up quota that refuses a new run of this runbook, or null. */
export function quotaHit(
  states: readonly QuotaState[],
  runbook: string,
  role: string | null,
): QuotaState | null {
  return states.find((q) => q.state === 'exceeded' && (q.agent === runbook || q.agent === role)) ?? null;
}
