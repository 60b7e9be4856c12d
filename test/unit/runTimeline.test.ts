/** The run timeline's layout and summaries: which steps sit side by side, what their calls add up to. */
import { describe, expect, it } from 'vitest';
import { type ModelCallInfo, type RunSummary, type RunTrace, type StepTrace } from '@keel/schemas';
import { HostToTimelineMessage, TimelineToHostMessage } from '@keel/schemas/src/webviews';
import { renderTrace } from '../../extension/src/runs/traceMarkdown';
import {
  routeLines,
  stepMarks,
  summarizeModelCalls,
  timelineRows,
} from '../../extension/src/runs/timelineModel';

const at = (second: number): string => new Date(Date.UTC(2026, 10, 25, 9, 0, second)).toISOString();

const step = (
  id: string,
  start: number | null,
  end: number | null,
  change: Partial<StepTrace> = {},
): StepTrace => ({
  id,
  type: 'llm',
  status: end === null ? (start === null ? 'pending' : 'running') : 'succeeded',
  startedAt: start === null ? null : at(start),
  endedAt: end === null ? null : at(end),
  durationMs: start !== null && end !== null ? (end - start) * 1000 : null,
  input: null,
  output: null,
  error: null,
  modelCalls: [],
  retrieved: [],
  ...change,
});

const call = (change: Partial<ModelCallInfo>): ModelCallInfo => ({
  tier: 'fast',
  model: 'm1',
  attempt: 1,
  latencyMs: 100,
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.001,
  outcome: 'ok',
  request: null,
  response: null,
  ...change,
});

const trace = (steps: StepTrace[], run: Partial<RunSummary> = {}): RunTrace => ({
  run: {
    id: 'r1',
    runbook: 'brief',
    status: 'running',
    inputs: {},
    startedAt: at(0),
    endedAt: null,
    currentStep: null,
    stepsDone: 0,
    stepsTotal: steps.length,
    costUsd: 0,
    tokens: 0,
    error: null,
    escalation: null,
    waitingFor: null,
    outputs: null,
    ...run,
  },
  runbook: { path: null, blob: null, file: 'unchanged' },
  steps,
});

const ids = (steps: StepTrace[]) => timelineRows(steps).map((row) => row.lanes.map((s) => s.id));

describe('run timeline rows', () => {
  it('puts steps that ran at the same time side by side, and a sequence one under another', () => {
    // fetch, then research and pricing together, then write after both.
    const steps = [step('fetch', 0, 2), step('research', 2, 6), step('pricing', 3, 5), step('write', 6, 7)];
    expect(ids(steps)).toEqual([['fetch'], ['research', 'pricing'], ['write']]);
  });

  it('keeps a running step open-ended, so what starts while it runs joins its row', () => {
    expect(ids([step('slow', 0, null), step('quick', 1, 2), step('after', 3, 4)])).toEqual([
      ['slow', 'quick', 'after'],
    ]);
  });

  it('chains overlaps (A with B, B with C) into one row, and lists steps not started last, in order', () => {
    const steps = [
      step('later', null, null),
      step('a', 0, 3),
      step('b', 2, 5),
      step('c', 4, 6),
      step('next', null, null),
    ];
    expect(ids(steps)).toEqual([['a', 'b', 'c'], ['later'], ['next']]);
  });
});

describe('model call summary', () => {
  it('adds tokens, cost and latency, counts failed calls and names each model once', () => {
    const summary = summarizeModelCalls([
      call({ outcome: 'http_429', inputTokens: 0, outputTokens: 0, costUsd: 0, latencyMs: 40 }),
      call({ attempt: 2 }),
      call({
        tier: 'smart',
        model: 'm2',
        inputTokens: 100,
        outputTokens: 50,
        costUsd: 0.01,
        outcome: 'replayed',
      }),
    ]);
    expect(summary).toEqual({
      calls: 3,
      failedCalls: 1,
      tokens: 165,
      costUsd: 0.011,
      latencyMs: 240,
      models: ['fast/m1', 'smart/m2'],
    });
  });
});

describe('step marks', () => {
  it('marks retries, escalations, hand-offs and takeovers', () => {
    const retried = step('draft', 0, 2, { modelCalls: [call({}), call({ attempt: 2 })] });
    const handoff = step('child', 2, 3, {
      type: 'runbook',
      children: [{ runId: 'r2', runbook: 'k', status: null }],
    });
    const stuck = step('ask', 3, null, { status: 'waiting_operator' });
    const t = {
      ...trace([retried, handoff, stuck]),
      takeovers: [{ fromStep: 'child', supplied: false, at: at(9) }],
    };
    expect(stepMarks(retried, t)).toEqual(['retried']);
    expect(stepMarks(handoff, t)).toEqual(['handed off', 'taken over']);
    expect(stepMarks(stuck, t)).toEqual(['escalated']);
  });
});

describe('model tiers', () => {
  it("says which tier a routed run chose, and each step's climb to a stronger tier with both costs", () => {
    const day = step('day', 0, 4);
    const t: RunTrace = {
      ...trace([day, step('save', 4, 5, { type: 'connector' })], {
        route: { tier: 'fast', reason: 'tier fast: latest eval 3/3 passed' },
      }),
      escalations: [
        {
          stepId: 'day',
          fromTier: 'fast',
          toTier: 'strong',
          reason: 'success criterion not met: the line names the day',
          fromCostUsd: 0.0002,
          toCostUsd: 0.004,
          at: at(3),
        },
      ],
    };
    const usd = (v: number): string => `$${v.toFixed(4)}`;
    expect(routeLines(t, usd)).toEqual([
      'The run: tier fast: latest eval 3/3 passed',
      'Step day went from tier fast ($0.0002) to strong ($0.0040): success criterion not met: the line names the day',
    ]);
    expect(stepMarks(day, t)).toEqual(['stronger tier']);
    const markdown = renderTrace(t, { now: Date.parse(at(9)), live: false }).text;
    expect(markdown).toContain('## Model tiers\n\n- The run: tier fast: latest eval 3/3 passed\n');
    expect(markdown).toContain('- Step day went from tier fast ($0.0002) to strong ($0.0040)');
    // An unrouted run has nothing to say about tiers.
    expect(routeLines(trace([day]), usd)).toEqual([]);
    expect(renderTrace(trace([day]), { now: Date.parse(at(9)), live: false }).text).not.toContain(
      'Model tiers',
    );
  });
});

describe('timeline messages', () => {
  it('accepts what the timeline sends and refuses what it never sends', () => {
    expect(TimelineToHostMessage.safeParse({ type: 'openNote', path: 'memory/a.md', line: 4 }).success).toBe(
      true,
    );
    expect(TimelineToHostMessage.safeParse({ type: 'openNote', path: 'memory/a.md', line: 0 }).success).toBe(
      false,
    );
    expect(TimelineToHostMessage.safeParse({ type: 'runCommand', command: 'x' }).success).toBe(false);
    expect(HostToTimelineMessage.safeParse({ type: 'trace', trace: trace([]), live: true }).success).toBe(
      true,
    );
  });
});
