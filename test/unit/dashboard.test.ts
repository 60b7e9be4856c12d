/** What the Dashboard shows: the report shaped into series and rows, quota states into words. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentMetrics, ControlState, QuotaState, RunSummary } from '@keel/schemas';
import {
  agentRows,
  breakerWarnings,
  evalDriftWarnings,
  describeBars,
  describeSpend,
  latencySeries,
  localDay,
  quotaView,
  rateSeries,
  runsToWatch,
  spendBars,
  spendSeries,
  stopBanner,
} from '../../extension/src/dashboard/dashboardModel';
import { Debouncer } from '../../extension/src/dashboard/debounce';

const agent = (change: Partial<AgentMetrics>): AgentMetrics => ({
  agent: 'content',
  role: 'Content writer',
  runs: 4,
  succeeded: 3,
  failed: 1,
  successRate: 0.75,
  errorRate: 0.25,
  p50Ms: 1_200,
  p95Ms: 4_560,
  costUsd: 0.0421,
  tokens: 12_000,
  throughputPerHour: 0.01,
  approvals: { approved: 1, edited: 1, rejected: 0, policy: 2 },
  reworkRate: 0.5,
  lessons: null,
  ...change,
});

const quota = (change: Partial<QuotaState>): QuotaState => ({
  agent: 'content',
  period: 'day',
  spentUsd: 0.04,
  tokens: 9_000,
  maxUsd: 0.05,
  maxTokens: null,
  state: 'warning',
  ...change,
});

const run = (change: Partial<RunSummary>): RunSummary => ({
  id: 'r1',
  runbook: 'content',
  status: 'succeeded',
  inputs: {},
  startedAt: '2026-11-25T08:00:00.000Z',
  endedAt: null,
  currentStep: null,
  stepsDone: 1,
  stepsTotal: 1,
  costUsd: 0,
  tokens: 0,
  error: null,
  escalation: null,
  waitingFor: null,
  outputs: null,
  ...change,
});

const control = (change: Partial<ControlState>): ControlState => ({
  stopped: false,
  stoppedAt: null,
  reason: null,
  breakers: [],
  quotas: [],
  ...change,
});

describe('spend per agent over time', () => {
  const rows = [
    { day: '2026-11-20', agent: 'sales', costUsd: 0.01, tokens: 100 },
    { day: '2026-11-25', agent: 'content', costUsd: 0.03, tokens: 300 },
    { day: '2026-11-25', agent: 'sales', costUsd: 0.006, tokens: 50 },
    { day: '2026-10-01', agent: 'ops', costUsd: 9, tokens: 9 },
  ];

  it('has one value per day, the days without spend as zero, the biggest spender first', () => {
    const series = spendSeries(rows, '2026-11-25', 7);
    expect(series.days).toEqual([
      '2026-11-19',
      '2026-11-20',
      '2026-11-21',
      '2026-11-22',
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
    ]);
    expect(series.agents.map((a) => a.agent)).toEqual(['content', 'sales']);
    expect(series.agents[0]!.values).toEqual([0, 0, 0, 0, 0, 0, 0.03]);
    expect(series.agents[1]!.values).toEqual([0, 0.01, 0, 0, 0, 0, 0.006]);
    // A day before the span (ops, October) is not counted.
    expect(series.totalUsd).toBeCloseTo(0.046);
  });

  it('ends on the last day with spend when the daemon counts a day ahead of the host', () => {
    const series = spendSeries(
      [{ day: '2026-11-26', agent: 'ops', costUsd: 0.2, tokens: 1 }],
      '2026-11-25',
      3,
    );
    expect(series.days).toEqual(['2026-11-24', '2026-11-25', '2026-11-26']);
    expect(series.agents[0]!.values).toEqual([0, 0, 0.2]);
  });

  it('crosses month ends and says what it shows in words', () => {
    const series = spendSeries(rows, '2026-12-02', 14);
    expect(series.days[0]).toBe('2026-11-19');
    expect(series.days.at(-1)).toBe('2026-12-02');
    expect(describeSpend(series)).toBe(
      'Spend per agent over the last 14 days: content $0.03, sales $0.02; $0.05 in all.',
    );
    expect(describeSpend(spendSeries([], '2026-12-02', 14))).toBe('No spend in the last 14 days.');
    expect(spendBars(series).labels.slice(0, 2)).toEqual(['11-19', '11-20']);
    expect(spendBars(series).series.map((s) => s.name)).toEqual(['content', 'sales']);
  });

  it('names the local day', () => {
    expect(localDay(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
  });
});

describe('quotas', () => {
  it('says how much is used, of what, and the state in words', () => {
    const view = quotaView(quota({}));
    expect(view.share).toBeCloseTo(0.8);
    expect(view).toMatchObject({
      title: 'content, today',
      text: '$0.04 of $0.05 (80%)',
      label: 'Warning: nearly used up',
      severity: 'warning',
    });
    expect(quotaView(quota({ state: 'ok', spentUsd: 0, period: 'month' }))).toMatchObject({
      title: 'content, this month',
      text: '$0.00 of $0.05 (0%)',
      label: 'Within quota',
    });
    expect(quotaView(quota({ state: 'exceeded', spentUsd: 0.06 }))).toMatchObject({
      share: 1.2,
      text: '$0.06 of $0.05 (120%)',
      label: 'Exceeded: new runs are refused',
    });
  });

  it('measures by whichever limit is nearer when tokens are limited too', () => {
    const view = quotaView(quota({ spentUsd: 0.01, tokens: 45_000, maxTokens: 50_000 }));
    expect(view.share).toBeCloseTo(0.9);
    expect(view.text).toBe('$0.01 of $0.05 · 45,000 of 50,000 tokens (90%)');
    expect(quotaView(quota({ state: 'ok', spentUsd: 0.000116 })).text).toBe('$0.0001 of $0.05 (<1%)');
    expect(quotaView(quota({ maxUsd: null, tokens: 10, maxTokens: 100 })).text).toBe(
      '10 of 100 tokens (10%)',
    );
  });
});

describe('agents', () => {
  const agents = [
    agent({
      agent: 'sales',
      costUsd: 0.001,
      // One run, waiting for approval: nothing finished yet.
      runs: 1,
      succeeded: 0,
      failed: 0,
      successRate: 0,
      errorRate: 0,
      p50Ms: null,
      p95Ms: null,
      reworkRate: null,
    }),
    agent({}),
  ];

  it('rows for the payroll table, the costliest first, with a dash where there is nothing to say', () => {
    expect(agentRows(agents)).toEqual([
      {
        agent: 'content',
        role: 'Content writer',
        runs: 4,
        success: '75%',
        errors: '25%',
        rework: '50%',
        reviewed: 2,
        byPolicy: 2,
        p50: '1.2 s',
        p95: '4.6 s',
        cost: '$0.04',
      },
      {
        agent: 'sales',
        role: 'Content writer',
        runs: 1,
        success: '—',
        errors: '—',
        rework: '—',
        reviewed: 2,
        byPolicy: 2,
        p50: '—',
        p95: '—',
        cost: '$0.0010',
      },
    ]);
  });

  it('series for the rate and latency charts, with gaps (null) rather than zeros', () => {
    expect(rateSeries(agents)).toEqual({
      labels: ['content', 'sales'],
      series: [
        { name: 'Success rate', values: [75, null] },
        { name: 'Rework rate', values: [50, null] },
      ],
    });
    expect(latencySeries(agents)).toEqual({
      labels: ['content', 'sales'],
      series: [
        { name: 'p50', values: [1.2, null] },
        { name: 'p95', values: [4.6, null] },
      ],
    });
    expect(describeBars(rateSeries(agents), (v) => `${v}%`, 'rates')).toBe(
      'Success rate and Rework rate per agent: content 75% and 50%; sales none and none.',
    );
    expect(describeBars(rateSeries([]), (v) => `${v}%`, 'rates')).toBe('No rates yet.');
  });
});

describe('runs to watch', () => {
  it('lists the runs under way and the latest failures', () => {
    const runs = [
      run({ id: 'a', status: 'running', startedAt: '2026-11-25T09:00:00Z' }),
      run({ id: 'b', status: 'failed', startedAt: '2026-11-25T08:00:00Z' }),
      run({ id: 'c', status: 'waiting_approval', startedAt: '2026-11-25T10:00:00Z' }),
      run({ id: 'd', status: 'budget_exceeded', startedAt: '2026-11-25T11:00:00Z' }),
      run({ id: 'e', status: 'succeeded' }),
      run({ id: 'f', status: 'cancelled' }),
    ];
    const watch = runsToWatch(runs, 1);
    expect(watch.active.map((r) => r.id)).toEqual(['c', 'a']);
    expect(watch.failed.map((r) => r.id)).toEqual(['d']);
  });
});

describe('the emergency stop and breakers, in words', () => {
  const time = (iso: string): string => `<${iso}>`;

  it('says since when and why, or nothing when running', () => {
    expect(stopBanner(control({}), time)).toBeNull();
    expect(stopBanner(null, time)).toBeNull();
    expect(stopBanner(control({ stopped: true, stoppedAt: 'T', reason: 'runaway loop' }), time)).toBe(
      'Stopped since <T> (runaway loop). No run executes and none starts until you resume.',
    );
    expect(stopBanner(control({ stopped: true, stoppedAt: 'T' }), time)).toBe(
      'Stopped since <T>. No run executes and none starts until you resume.',
    );
  });

  it('names the breakers that refuse calls', () => {
    const breakers: ControlState['breakers'] = [
      { name: 'endpoint:https://api.example', state: 'open', failures: 5, retryAt: 'R' },
      { name: 'runbook:sales', state: 'half_open', failures: 3, retryAt: null },
      { name: 'runbook:ops', state: 'closed', failures: 0, retryAt: null },
    ];
    expect(breakerWarnings(control({ breakers }), time)).toEqual([
      'endpoint:https://api.example: open after 5 failures in a row; calls are refused until <R>.',
      'runbook:sales: trying again (half open) after 3 failures.',
    ]);
  });
});

describe('refreshing on notifications', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('coalesces a burst into one refresh, 300 ms after the last', () => {
    vi.useFakeTimers();
    const action = vi.fn();
    const debouncer = new Debouncer(action, 300, 1_000);
    debouncer.trigger();
    vi.advanceTimersByTime(200);
    debouncer.trigger();
    vi.advanceTimersByTime(299);
    expect(action).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(action).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5_000);
    expect(action).toHaveBeenCalledTimes(1);
  });

  it('still refreshes within the maximum wait while notifications keep coming', () => {
    vi.useFakeTimers();
    const action = vi.fn();
    const debouncer = new Debouncer(action, 300, 1_000);
    for (let t = 0; t < 1_500; t += 100) {
      debouncer.trigger();
      vi.advanceTimersByTime(100);
    }
    // One at 1 000 ms after the first trigger; the stream goes on, so another is pending.
    expect(action).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(300);
    expect(action).toHaveBeenCalledTimes(2);
  });

  it('flushes at once when asked, and forgets a cancelled refresh', () => {
    vi.useFakeTimers();
    const action = vi.fn();
    const debouncer = new Debouncer(action);
    debouncer.flush();
    expect(action).not.toHaveBeenCalled();
    debouncer.trigger();
    debouncer.flush();
    expect(action).toHaveBeenCalledTimes(1);
    debouncer.trigger();
    debouncer.cancel();
    vi.advanceTimersByTime(2_000);
    expect(action).toHaveBeenCalledTimes(1);
  });
});

describe('eval drift on the dashboard', () => {
  const row = (tier: string, lastAt: string) => ({
    runbook: 'reply',
    tier,
    runs: 2,
    passRate: 0.5,
    meanScore: 0.5,
    costUsd: 0.001,
    tokens: 100,
    model: 'gpt-4o',
    lastAt,
  });
  const drift = (tier: string, at: string) => ({
    runbook: 'reply',
    tier,
    at,
    baselineAt: '2026-11-01T06:00:00.000Z',
    tolerance: 0.1,
    cases: [
      {
        case: 'kickoff time',
        baselineScore: 0.97,
        score: 0.07,
        baselineModel: 'gpt-4o',
        model: 'gpt-4o-2026-01-15',
      },
    ],
  });

  it('names the cases of each runbook and tier whose newest eval drifted, and how to accept it', () => {
    const lines = evalDriftWarnings(
      {
        rows: [row('strong', '2026-11-23T06:00:00.000Z')],
        drift: [drift('strong', '2026-11-23T06:00:00.000Z')],
      },
      () => '06:00',
    );
    expect(lines).toEqual([
      'reply on strong drifted from its baseline at 06:00: kickoff time (score 0.97 → 0.07, model gpt-4o → ' +
        'gpt-4o-2026-01-15). "keel eval reply --tier strong --baseline" accepts it as the new baseline.',
    ]);
  });

  it('no longer shows drift a later eval of the runbook and tier did not find', () => {
    const evals = {
      rows: [row('fast', '2026-11-24T06:00:00.000Z')],
      drift: [drift('fast', '2026-11-23T06:00:00.000Z')],
    };
    expect(evalDriftWarnings(evals, () => '')).toEqual([]);
    expect(evalDriftWarnings(null, () => '')).toEqual([]);
  });
});
