/**
 * `forEach` hand-offs: the runbook diagnostics (one bare expression, no retry:, item/index only
 * with a forEach), the list checked at run time (a list, at most MAX_FOR_EACH_ITEMS items), and
 * the children as a restarted parent finds them: an item whose child started before the restart
 * gets no second child, and the next item still gets its own.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FOR_EACH_ITEMS, Runbook } from '@keel/schemas';
import { RunBudget } from '../../daemon/src/conductor/budget';
import { makeHandoff, type ChildEnd, type ChildRunPort } from '../../daemon/src/conductor/handoffs';
import type { JournalRecord } from '../../daemon/src/conductor/journalRecords';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';
import { RunHistory } from '../../daemon/src/conductor/runHistory';
import { forEachInput, runForEach } from '../../daemon/src/conductor/steps/forEach';
import { UNLIMITED_SLOT, type StepRuntime } from '../../daemon/src/conductor/steps/stepRuntime';

const fanOut = (step: string) => `apiVersion: keel/v1
name: chaser
role: r
description: d
steps:
  - id: overdue
    type: connector
    use: billing
    action: overdueInvoices
${step}`;

function problems(step: string): string[] {
  return parseRunbook(fanOut(step), 'runbooks/chaser.yaml').problems.map((p) => p.message);
}

describe('forEach diagnostics', () => {
  it('accepts one expression giving a list, with item and index in the inputs', () => {
    expect(
      problems(`  - id: remind
    type: runbook
    runbook: reminder
    forEach: '{{ steps.overdue.output.customers }}'
    inputs: { customer: '{{ item.customer }}', position: '{{ index }}' }
`),
    ).toEqual([]);
  });

  it('refuses a filter (the list would become text), a retry, and a step not run before', () => {
    expect(
      problems(`  - id: remind
    type: runbook
    runbook: reminder
    forEach: '{{ steps.overdue.output.customers | slice: 0, 50 }}'
    retry: { maxAttempts: 2 }
`),
    ).toEqual([
      expect.stringContaining('forEach must be one expression that gives a list, with no filters'),
      expect.stringContaining(
        'a step with forEach cannot retry: another attempt would hand every item off again',
      ),
    ]);
    expect(
      problems(`  - id: remind
    type: runbook
    runbook: reminder
    forEach: '{{ steps.later.output }}'
`),
    ).toEqual([expect.stringContaining('"steps.later" is not a step before this one')]);
  });

  it('names item and index used by a hand-off without forEach', () => {
    expect(
      problems(`  - id: remind
    type: runbook
    runbook: reminder
    inputs: { customer: '{{ item.customer }}' }
`),
    ).toEqual([expect.stringContaining('"item" and "index" exist only in a step with forEach:')]);
  });
});

type HandoffStep = Extract<Runbook['steps'][number], { type: 'runbook' }>;

const STEP = Runbook.parse({
  apiVersion: 'keel/v1',
  name: 'chaser',
  role: 'r',
  description: 'd',
  steps: [
    {
      id: 'remind',
      type: 'runbook',
      runbook: 'reminder',
      forEach: '{{ steps.overdue.output.customers }}',
      inputs: { customer: '{{ item.customer }}' },
    },
  ],
}).steps[0] as HandoffStep;

function journal(): JournalRecord[] {
  return [
    {
      type: 'run',
      version: 1,
      id: 'r1',
      runbook: 'chaser',
      runbookHash: 'h',
      inputs: {},
      recordCassette: null,
      replayCassette: null,
      at: new Date().toISOString(),
    },
  ];
}

/** A run's step runtime over `records` (a restart reads the same records again), with real hand-offs. */
function runtime(records: JournalRecord[], customers: unknown, children: ChildRunPort): StepRuntime {
  const history = new RunHistory(records, 'live', (record) => {
    records.push(record);
    return Promise.resolve();
  });
  const budget = new RunBudget(Runbook.shape.budget.parse({}), 0);
  const handoff = makeHandoff({
    run: history.run,
    history,
    children,
    signal: new AbortController().signal,
    budget,
    slot: UNLIMITED_SLOT,
  });
  return {
    scope: { steps: { overdue: { output: { customers } } } },
    budget,
    handoff,
  } as unknown as StepRuntime;
}

const ended = (status: ChildEnd['status']): ChildEnd => ({
  status,
  outputs: status === 'succeeded' ? { reminder: 'succeeded' } : null,
  error: status === 'failed' ? 'mail server down' : null,
  costUsd: 0,
  tokens: 0,
});

/** Children that end as `ends` says, by id; `started` lists each start asked for. */
function children(ends: Record<string, ChildEnd['status']>, crashBefore?: string) {
  const started: { id: string; inputs: Record<string, unknown> }[] = [];
  const port: ChildRunPort = {
    runbook: () =>
      Promise.resolve(
        Runbook.parse({
          apiVersion: 'keel/v1',
          name: 'reminder',
          role: 'r',
          description: 'd',
          steps: [{ id: 'c', type: 'checkpoint' }],
        }),
      ),
    start: (request) => {
      if (request.id === crashBefore) return Promise.reject(new Error('kill -9'));
      started.push({ id: request.id, inputs: request.inputs });
      return Promise.resolve();
    },
    wait: (id) => Promise.resolve(ended(ends[id] ?? 'succeeded')),
  };
  return { port, started };
}

describe('forEach at run time', () => {
  it('refuses a list longer than the cap, and what is not a list, naming the step', async () => {
    const many = Array.from({ length: MAX_FOR_EACH_ITEMS + 1 }, (_, i) => ({ customer: `cus_${i}` }));
    const { port, started } = children({});
    await expect(forEachInput(STEP, runtime(journal(), many, port))).rejects.toThrow(
      `step "remind" would hand off ${MAX_FOR_EACH_ITEMS + 1} items to reminder (forEach), more than the ${MAX_FOR_EACH_ITEMS}`,
    );
    await expect(forEachInput(STEP, runtime(journal(), 'cus_1, cus_2', port))).rejects.toThrow(
      'step "remind": forEach ({{ steps.overdue.output.customers }}) gave a string, not a list',
    );
    await expect(forEachInput(STEP, runtime(journal(), null, port))).rejects.toThrow(
      'gave nothing, not a list',
    );
    expect(started).toEqual([]);
  });

  it('starts each item’s child once across a restart, and lists every end, the cancelled one too', async () => {
    const records = journal();
    const customers = [{ customer: 'cus_a' }, { customer: 'cus_b' }];
    const first = children({ 'r1.remind.0': 'cancelled' }, 'r1.remind.1');
    const before = runtime(records, customers, first.port);
    await expect(runForEach(STEP, before, await forEachInput(STEP, before))).rejects.toThrow('kill -9');
    expect(first.started.map((s) => s.id)).toEqual(['r1.remind.0']);

    // The restarted parent reads the same journal: item 0's child and end are there already.
    const second = children({ 'r1.remind.0': 'cancelled' });
    const after = runtime([...records], customers, second.port);
    const result = await runForEach(STEP, after, await forEachInput(STEP, after));
    expect(second.started).toEqual([{ id: 'r1.remind.1', inputs: { customer: 'cus_b' } }]);
    expect(result.output).toEqual([
      { index: 0, runId: 'r1.remind.0', status: 'cancelled', outputs: null, error: null },
      {
        index: 1,
        runId: 'r1.remind.1',
        status: 'succeeded',
        outputs: { reminder: 'succeeded' },
        error: null,
      },
    ]);
  });

  it('fails the step when a child failed, after the others ran, naming how each ended', async () => {
    const { port, started } = children({ 'r1.remind.0': 'failed' });
    const run = runtime(journal(), [{ customer: 'cus_a' }, { customer: 'cus_b' }], port);
    await expect(runForEach(STEP, run, await forEachInput(STEP, run))).rejects.toThrow(
      '1 of 2 child runs of reminder did not succeed: item 0 (r1.remind.0) failed: mail server down; item 1 (r1.remind.1) succeeded',
    );
    expect(started.map((s) => s.id)).toEqual(['r1.remind.0', 'r1.remind.1']);
  });
});
