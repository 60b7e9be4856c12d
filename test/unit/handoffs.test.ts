/**
 * Hand-offs refused before anything starts: a child whose runbook is already running above it (a
 * cycle that slipped past the editor, say a runbook edited while a run waited) and a chain too
 * deep; and the diagnostics that name a missing runbook or a cycle at the step that hands off.
 */
import { describe, expect, it } from 'vitest';
import { Runbook } from '@keel/schemas';
import { parse } from 'yaml';
import { RunBudget } from '../../daemon/src/conductor/budget';
import { handoffProblems, type HandoffNode } from '../../daemon/src/conductor/handoffGraph';
import { makeHandoff, type ChildRunPort } from '../../daemon/src/conductor/handoffs';
import type { JournalRecord } from '../../daemon/src/conductor/journalRecords';
import { RunHistory } from '../../daemon/src/conductor/runHistory';
import { StepFailedError, UNLIMITED_SLOT } from '../../daemon/src/conductor/steps/stepRuntime';

function history(runbook: string, ancestry: string[]): RunHistory {
  const records: JournalRecord[] = [
    {
      type: 'run',
      version: 1,
      id: 'r1',
      runbook,
      runbookHash: 'h',
      inputs: {},
      recordCassette: null,
      replayCassette: null,
      ancestry,
      at: new Date().toISOString(),
    },
  ];
  return new RunHistory(records, 'live', (record) => {
    records.push(record);
    return Promise.resolve();
  });
}

/** A port that records what it was asked: nothing may start when a hand-off is refused. */
function port(): ChildRunPort & { started: string[] } {
  const started: string[] = [];
  return {
    started,
    runbook: () => Promise.reject(new Error('not asked in these tests')),
    start: (request) => {
      started.push(request.id);
      return Promise.resolve();
    },
    wait: () => Promise.reject(new Error('not asked in these tests')),
  };
}

function handoff(runbook: string, ancestry: string[], children: ChildRunPort) {
  const h = history(runbook, ancestry);
  return makeHandoff({
    run: h.run,
    history: h,
    children,
    signal: new AbortController().signal,
    budget: new RunBudget(Runbook.shape.budget.parse({}), 0),
    slot: UNLIMITED_SLOT,
  });
}

describe('hand-offs at run time', () => {
  it('refuses a child whose runbook runs above it, naming the cycle, and starts nothing', async () => {
    const children = port();
    const attempt = handoff(
      'pong',
      ['ping'],
      children,
    )({ key: 'back', stepId: 'back', runbook: 'ping', inputs: {} });
    await expect(attempt).rejects.toThrow(
      'step "back" hands off to ping, which is already running above it (ping → pong → ping)',
    );
    await expect(attempt).rejects.toMatchObject({ retryable: false });
    await expect(attempt).rejects.toBeInstanceOf(StepFailedError);
    expect(children.started).toEqual([]);
  });

  it('refuses a chain of hand-offs deeper than four runs', async () => {
    const children = port();
    const attempt = handoff(
      'd',
      ['a', 'b', 'c'],
      children,
    )({ key: 's', stepId: 's', runbook: 'e', inputs: {} });
    await expect(attempt).rejects.toThrow(/4 runs deep \(a → b → c → d → e\); at most 3 levels/);
    expect(children.started).toEqual([]);
  });
});

function node(text: string): HandoffNode {
  const runbook = Runbook.parse(parse(text));
  return { path: `runbooks/${runbook.name}.yaml`, text, runbook };
}

const AGENT = (name: string, targets: string) => `apiVersion: keel/v1
name: ${name}
role: r
description: d
steps:
  - id: plan
    type: agent
    goal: g
    runbooks: [${targets}]
`;

describe('hand-off diagnostics', () => {
  it('names a runbook that does not exist at the agent’s runbooks: entry', () => {
    const lead = node(AGENT('lead', 'sales, nobody'));
    const problems = handoffProblems(lead, new Map([['sales', node(AGENT('sales', 'lead2'))]]));
    expect(problems.map((p) => [p.line, p.message.replace(/^[^:]*: /, '')])).toEqual([
      [9, 'no runbook named "nobody" to hand off to (runbooks: sales)'],
    ]);
  });

  it('finds a cycle through other runbooks, with its whole path', () => {
    const a = node(AGENT('a', 'b'));
    const all = new Map([
      ['b', node(AGENT('b', 'c'))],
      ['c', node(AGENT('c', 'a'))],
    ]);
    expect(handoffProblems(a, all).map((p) => p.message.replace(/^[^:]*: /, ''))).toEqual([
      'runbooks hand off in a cycle (a → b → c → a): a run would never end',
    ]);
  });
});
