/** Budget advice's ranking and quota moves, from metrics, quotas and refusals as the daemon hands them over. */
import { describe, expect, it } from 'vitest';
import type { AgentMetrics, QuotaState } from '@keel/schemas';
import { quotaMoves, rankAgents } from '../../daemon/src/governance/advice';

function agent(
  name: string,
  runs: number,
  succeeded: number,
  costUsd: number,
  reworkRate: number | null,
): AgentMetrics {
  return {
    agent: name,
    role: null,
    runs,
    succeeded,
    failed: runs - succeeded,
    successRate: 0,
    errorRate: 0,
    p50Ms: null,
    p95Ms: null,
    costUsd,
    tokens: 0,
    throughputPerHour: 0,
    approvals: { approved: 0, edited: 0, rejected: 0, policy: 0 },
    reworkRate,
    lessons: null,
  };
}

const quota = (
  name: string,
  maxUsd: number | null,
  spentUsd: number,
  period: 'day' | 'month' = 'day',
): QuotaState => ({
  agent: name,
  period,
  spentUsd,
  tokens: 0,
  maxUsd,
  maxTokens: maxUsd === null ? 1000 : null,
  state: maxUsd !== null && spentUsd >= maxUsd ? 'exceeded' : 'ok',
});

describe('budget advice', () => {
  it('ranks spend without success first, then cost per successful run, then rework; idle agents are left out', () => {
    const ranked = rankAgents([
      agent('cheap', 4, 4, 0.4, 0),
      agent('reworked', 2, 2, 0.2, 0.75),
      agent('dear', 1, 1, 0.5, null),
      agent('wasted', 3, 0, 0.03, null),
      agent('idle', 0, 0, 0, null),
      agent('free-failures', 2, 0, 0, null),
    ]);
    expect(ranked.map((a) => [a.agent, a.costPerSuccessUsd])).toEqual([
      ['wasted', null],
      ['dear', 0.5],
      ['reworked', 0.1],
      ['cheap', 0.1],
      ['free-failures', null],
    ]);
  });

  it('moves quota only from another agent of the same period with enough unused, and only for this period', () => {
    const now = new Date(2026, 11, 3, 15, 0, 0);
    const today = new Date(2026, 11, 3, 9, 0, 0).toISOString();
    const yesterday = new Date(2026, 11, 2, 9, 0, 0).toISOString();
    const refusal = (at: string, forecastUsd: number) => ({
      runbook: 'ask',
      agent: 'Analyst',
      period: 'day' as const,
      forecastUsd,
      at,
    });
    const moves = quotaMoves(
      [
        quota('Analyst', 0.03, 0.04),
        quota('Writer', 1, 0.3),
        quota('Monthly', 50, 0, 'month'),
        quota('Tokens', null, 0),
        quota('Spent', 0.1, 0.2),
      ],
      [refusal(yesterday, 9), refusal(today, 0.02), refusal(today, 0.03)],
      now,
    );
    expect(moves).toEqual([
      expect.objectContaining({
        agent: 'Analyst',
        refused: 2,
        neededUsd: 0.05,
        from: 'Writer',
        unusedUsd: 0.7,
      }),
    ]);
  });
});
