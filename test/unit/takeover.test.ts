/**
 * What a takeover forgets, as pure logic: the steps it runs again (the chosen one and those that
 * need it, not a parallel branch that ended), the journal as it stands after it, and the
 * history's answers.
 */
import { expect, it } from 'vitest';
import { Runbook } from '@keel/schemas';
import type { JournalRecord } from '../../daemon/src/conductor/journalRecords';
import { RunHistory } from '../../daemon/src/conductor/runHistory';
import { currentEnd, effectiveRecords, stepsAgain } from '../../daemon/src/conductor/takeover';

const runbook = Runbook.parse({
  apiVersion: 'keel/v1',
  name: 'weekly',
  role: 'Ops',
  description: 'Branches.',
  steps: [
    { id: 'sales', type: 'llm', prompt: 'a', needs: [] },
    { id: 'content', type: 'llm', prompt: 'b', needs: [] },
    { id: 'summary', type: 'llm', prompt: 'c', needs: ['sales', 'content'] },
    { id: 'save', type: 'checkpoint' },
  ],
});

const at = '2026-12-02T10:00:00.000Z';
const journal: JournalRecord[] = [
  {
    type: 'run',
    version: 1,
    id: 'r',
    runbook: 'weekly',
    runbookHash: 'h',
    inputs: {},
    recordCassette: null,
    replayCassette: null,
    at,
  },
  { type: 'stepStart', stepId: 'sales', stepType: 'llm', input: null, at },
  { type: 'stepEnd', stepId: 'sales', status: 'succeeded', output: 'S', error: null, retrieved: [], at },
  { type: 'stepStart', stepId: 'content', stepType: 'llm', input: null, at },
  {
    type: 'modelCall',
    stepId: 'content',
    call: 0,
    attempt: 1,
    tier: 'fast',
    model: 'm',
    requestHash: 'q',
    request: null,
    response: {
      content: 'C',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 1, outputTokens: 1 },
      model: 'm',
    },
    outcome: 'ok',
    latencyMs: 1,
    costUsd: 0.5,
    at,
  },
  { type: 'stepEnd', stepId: 'content', status: 'succeeded', output: 'C', error: null, retrieved: [], at },
  { type: 'stepStart', stepId: 'summary', stepType: 'llm', input: null, at },
  { type: 'stepEnd', stepId: 'summary', status: 'failed', output: null, error: 'no', retrieved: [], at },
  { type: 'runEnd', status: 'failed', outputs: null, error: 'no', escalation: null, at },
];

it('runs again the chosen step and every step that needs it, keeping a branch that ended', () => {
  expect(stepsAgain(runbook, 'content')).toEqual(['content', 'summary', 'save']);
  expect(stepsAgain(runbook, 'summary')).toEqual(['summary', 'save']);
});

it('reads the journal as it stands after a takeover with a supplied output', () => {
  const taken: JournalRecord[] = [
    ...journal,
    {
      type: 'takeover',
      fromStep: 'content',
      steps: ['content', 'summary', 'save'],
      supplied: true,
      output: 'by hand',
      by: 'operator',
      at,
    },
  ];
  expect(currentEnd(journal)?.status).toBe('failed');
  expect(currentEnd(taken)).toBeNull();
  const records = effectiveRecords(taken);
  expect(records.filter((r) => r.type === 'runEnd')).toEqual([]);
  expect(records.filter((r) => r.type === 'stepEnd').map((r) => [r.stepId, r.output])).toEqual([
    ['sales', 'S'],
    ['content', 'by hand'],
  ]);
  // The model call that was paid for stays in the record of spend.
  expect(records.filter((r) => r.type === 'modelCall')).toHaveLength(1);

  const history = new RunHistory(taken, 'replay', () => Promise.resolve());
  expect(history.ended()).toBeNull();
  expect(history.stepEnd('summary')).toBeUndefined();
  expect(history.suppliedEnd('content')?.output).toBe('by hand');
  expect(history.recorded('model:content#0')).toBeUndefined();
  expect(history.generation('summary')).toBe(1);
  expect(history.generation('sales')).toBe(0);
  expect(history.spend()).toMatchObject({ usd: 0.5, steps: 1 });
});
