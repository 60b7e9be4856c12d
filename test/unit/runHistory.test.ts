/**
 * The run history: one answer to "did this already happen?", and `once`, the one way a step does
 * anything outside itself. Live, what the journal holds is returned and not done again; in a
 * replay the journal answers or the replay names the step (and the key) it diverged at.
 */
import { describe, expect, it } from 'vitest';
import type { JournalRecord, RecordOf } from '../../daemon/src/conductor/journalRecords';
import {
  decisionKey,
  effectKey,
  modelKey,
  ReplayDivergenceError,
  RunHistory,
} from '../../daemon/src/conductor/runHistory';

const START: RecordOf<'run'> = {
  type: 'run',
  version: 1,
  id: 'r1',
  runbook: 'renewal',
  runbookHash: 'h',
  inputs: {},
  recordCassette: null,
  replayCassette: null,
  at: '2026-01-05T10:00:00.000Z',
};

function effect(key: string, result: unknown): RecordOf<'effect'> {
  return {
    type: 'effect',
    stepId: key.split(':')[1]!,
    key,
    connector: 'fs.outbox@1',
    action: 'write',
    result,
    at: '2026-01-05T10:00:01.000Z',
  };
}

function modelCall(
  stepId: string,
  call: number,
  requestHash: string,
  content: string,
): RecordOf<'modelCall'> {
  return {
    type: 'modelCall',
    stepId,
    call,
    attempt: 1,
    tier: 'fast',
    model: 'm',
    requestHash,
    request: {},
    response: {
      content,
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 10, outputTokens: 5 },
      model: 'm',
    },
    outcome: 'ok',
    latencyMs: 3,
    costUsd: 0.25,
    at: '2026-01-05T10:00:02.000Z',
  };
}

/** A live history over a journal that grows as records are written, as the conductor's does. */
function live(records: JournalRecord[]): { history: RunHistory; journal: JournalRecord[] } {
  const journal = [START, ...records];
  const history = new RunHistory(journal, 'live', (record) => {
    journal.push(record);
    return Promise.resolve();
  });
  return { history, journal };
}

describe('once, live', () => {
  it('returns the result the journal recorded without performing it again', async () => {
    const { history, journal } = live([effect('r1:save', { path: 'outbox/a.md', written: true })]);
    let performed = 0;
    const result = await history.once({ key: effectKey('r1:save'), stepId: 'save', what: 'writes' }, () => {
      performed++;
      return Promise.resolve({ result: 'again', record: effect('r1:save', 'again') });
    });
    expect(result).toEqual({ path: 'outbox/a.md', written: true });
    expect(performed).toBe(0);
    expect(journal).toHaveLength(2);
  });

  it('performs a new key once, journals it, and answers the next ask from the journal', async () => {
    const { history, journal } = live([]);
    let performed = 0;
    const ask = (): Promise<unknown> =>
      history.once({ key: effectKey('r1:save'), stepId: 'save', what: 'writes' }, () => {
        performed++;
        return Promise.resolve({ result: { n: performed }, record: effect('r1:save', { n: performed }) });
      });
    expect(await ask()).toEqual({ n: 1 });
    expect(await ask()).toEqual({ n: 1 });
    expect(performed).toBe(1);
    expect(journal.filter((r) => r.type === 'effect')).toHaveLength(1);
  });

  it('asks the model again when the recorded answer was for another request', async () => {
    const { history } = live([modelCall('plan', 0, 'old-prompt', 'Old answer')]);
    const ask = (hash: string): Promise<unknown> =>
      history.once({ key: modelKey('plan', 0), stepId: 'plan', fingerprint: hash, what: 'asks' }, () =>
        Promise.resolve({ result: 'New answer', record: modelCall('plan', 0, hash, 'New answer') }),
      );
    expect(await ask('old-prompt')).toMatchObject({ content: 'Old answer' });
    expect(await ask('new-prompt')).toBe('New answer');
    // The new answer is now the recorded one.
    expect(history.recorded(modelKey('plan', 0))?.fingerprint).toBe('new-prompt');
  });

  it('sees records the conductor wrote to the journal itself, and a decision by its proposal', () => {
    const { history, journal } = live([]);
    expect(history.cancelRequested()).toBe(false);
    journal.push({ type: 'cancelRequested', reason: 'by the operator', at: START.at });
    journal.push({
      type: 'decided',
      stepId: 'update',
      proposalId: 'p-r1.update',
      decision: 'approved',
      reason: null,
      commit: 'abc',
      at: START.at,
    });
    expect(history.cancelRequested()).toBe(true);
    expect(history.decision('p-r1.update')).toMatchObject({ decision: 'approved', commit: 'abc' });
    expect(history.recorded(decisionKey('p-r1.update'))).toBeDefined();
  });
});

describe('once, in a replay', () => {
  const replay = (records: JournalRecord[]): { history: RunHistory; written: JournalRecord[] } => {
    const written: JournalRecord[] = [];
    const history = new RunHistory([START, ...records], 'replay', (record) => {
      written.push(record);
      return Promise.resolve();
    });
    return { history, written };
  };

  it('answers from the journal and never performs', async () => {
    const { history, written } = replay([modelCall('plan', 0, 'same', 'Recorded')]);
    const answer = await history.once(
      { key: modelKey('plan', 0), stepId: 'plan', fingerprint: 'same', what: 'asks' },
      () => Promise.reject(new Error('a replay must not perform')),
    );
    expect(answer).toMatchObject({ content: 'Recorded' });
    expect(written).toEqual([]);
  });

  it('names the step and the key the journal has nothing for', async () => {
    const { history } = replay([]);
    const error = await history
      .once(
        { key: effectKey('r1:save'), stepId: 'save', what: 'makes the side effect fs.outbox@1 write' },
        () => Promise.reject(new Error('a replay must not perform')),
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    expect(error).toMatchObject({ stepId: 'save', kind: 'missing', key: 'effect:r1:save' });
    expect((error as Error).message).toMatch(/step "save" makes the side effect fs.outbox@1 write/);
  });

  it('names the step whose request changed', async () => {
    const { history } = replay([modelCall('plan', 0, 'three-line plan', 'Recorded')]);
    const error = await history
      .once({ key: modelKey('plan', 0), stepId: 'plan', fingerprint: 'five-line plan', what: 'asks' }, () =>
        Promise.reject(new Error('a replay must not perform')),
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ stepId: 'plan', kind: 'request', key: 'model:plan#0' });
  });

  it('does not read what the replay writes as what happened', async () => {
    const { history } = replay([]);
    await history.append({
      type: 'stepEnd',
      stepId: 'plan',
      status: 'succeeded',
      output: 'x',
      error: null,
      retrieved: [],
      at: START.at,
    });
    expect(history.stepEnd('plan')).toBeUndefined();
  });
});

it('adds up what the run spent, and leaves out the time it waited for the operator', () => {
  const at = (seconds: number): string => new Date(Date.parse(START.at) + seconds * 1000).toISOString();
  const { history } = live([
    { ...modelCall('plan', 0, 'h', 'a'), at: at(2) },
    {
      type: 'stepEnd',
      stepId: 'plan',
      status: 'succeeded',
      output: 'a',
      error: null,
      retrieved: [],
      at: at(3),
    },
    { type: 'waiting', stepId: 'update', proposalId: 'p', at: at(4) },
    {
      type: 'decided',
      stepId: 'update',
      proposalId: 'p',
      decision: 'approved',
      reason: null,
      commit: null,
      at: at(3604),
    },
    { type: 'resume', at: at(7200) },
    {
      type: 'stepEnd',
      stepId: 'update',
      status: 'succeeded',
      output: null,
      error: null,
      retrieved: [],
      at: at(7205),
    },
  ]);
  expect(history.spend()).toEqual({ usd: 0.25, tokens: 15, steps: 2, activeMs: 9_000 });
});

describe('action intents', () => {
  const intent = (key: string, undoes?: string): RecordOf<'effectIntent'> => ({
    type: 'effectIntent',
    stepId: key.split(':')[1]!,
    key,
    connector: 'ledger',
    action: undoes ? 'remove' : 'add',
    input: { item: 'a' },
    ...(undoes ? { undoes } : {}),
    at: '2026-01-05T10:00:01.000Z',
  });
  const live = (records: JournalRecord[]) => new RunHistory([START, ...records], 'live', async () => {});

  it('an intent is open until its result or its failure is journaled', () => {
    expect(live([intent('r1:a')]).openIntent(effectKey('r1:a'))).toBeDefined();
    expect(live([intent('r1:a'), effect('r1:a', 1)]).openIntent(effectKey('r1:a'))).toBeUndefined();
    const failed: RecordOf<'effectFailed'> = {
      type: 'effectFailed',
      stepId: 'a',
      key: 'r1:a',
      error: '503',
      at: '2026-01-05T10:00:02.000Z',
    };
    expect(live([intent('r1:a'), failed]).openIntent(effectKey('r1:a'))).toBeUndefined();
  });

  it('a takeover of the step closes its cut-off intent (the operator checked); others stay open', () => {
    const takeover: RecordOf<'takeover'> = {
      type: 'takeover',
      fromStep: 'a',
      steps: ['a'],
      supplied: false,
      output: null,
      by: 'operator',
      at: '2026-01-05T10:00:03.000Z',
    };
    const history = live([intent('r1:a'), intent('r1:b'), takeover]);
    expect(history.openIntent(effectKey('r1:a'))).toBeUndefined();
    expect(history.cutOffActions().map((i) => i.key)).toEqual(['r1:b']);
  });

  it('compensation sees the actions performed under an intent, never the undos, whatever a step is named', () => {
    const history = live([
      effect('r1:write', 'outbox'), // fs.outbox: no intent, nothing to undo
      intent('r1:undo'),
      effect('r1:undo', 1),
      intent('r1:undo:undo', 'r1:undo'),
      effect('r1:undo:undo', 2),
    ]);
    expect(history.performedActions().map((e) => e.key)).toEqual(['r1:undo']);
  });
});

describe("a step's end, written while the next step goes on", () => {
  const stepEnd = (stepId: string): RecordOf<'stepEnd'> => ({
    type: 'stepEnd',
    stepId,
    status: 'succeeded',
    output: 'ok',
    error: null,
    retrieved: [],
    at: '2026-01-05T10:00:03.000Z',
  });

  /** A live history whose step ends become durable only when the test says so. */
  function withSlowEnds(): {
    history: RunHistory;
    written: JournalRecord[];
    durable: (outcome?: Error) => void;
  } {
    const written: JournalRecord[] = [];
    const waiting: ((outcome?: Error) => void)[] = [];
    const history = new RunHistory([START], 'live', (record) => {
      written.push(record);
      if (record.type !== 'stepEnd') return Promise.resolve();
      return new Promise<void>((resolve, reject) =>
        waiting.push((outcome) => (outcome ? reject(outcome) : resolve())),
      );
    });
    return { history, written, durable: (outcome) => waiting.shift()!(outcome) };
  }

  it('lets the next model call go out before the end is durable, but no side effect', async () => {
    const { history, written, durable } = withSlowEnds();
    history.appendEnd(stepEnd('draft'));
    const performed: string[] = [];
    const asked = history.once({ key: modelKey('send', 1), stepId: 'send', what: 'asks' }, () => {
      performed.push('model');
      return Promise.resolve({ result: 'hi', record: modelCall('send', 1, 'h', 'hi') });
    });
    const key = effectKey('r1:send');
    const sent = history.once({ key, stepId: 'send', what: 'sends' }, () => {
      performed.push('email');
      return Promise.resolve({ result: 'sent', record: effect(key, 'sent') });
    });
    await expect(asked).resolves.toBe('hi');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(performed).toEqual(['model']);
    durable();
    await expect(sent).resolves.toBe('sent');
    expect(performed).toEqual(['model', 'email']);
    expect(written.map((r) => r.type)).toEqual(['stepEnd', 'modelCall', 'effect']);
  });

  it("fails what comes next, and the run's end, with the step whose end was not written", async () => {
    const { history, durable } = withSlowEnds();
    history.appendEnd(stepEnd('draft'));
    const performed: string[] = [];
    const key = effectKey('r1:send');
    const sent = history.once({ key, stepId: 'send', what: 'sends' }, () => {
      performed.push('email');
      return Promise.resolve({ result: 'sent', record: effect(key, 'sent') });
    });
    durable(new Error('EIO: i/o error, fdatasync'));
    const unwritten = /could not record the end of step "draft": EIO: i\/o error, fdatasync/;
    await expect(sent).rejects.toThrow(unwritten);
    expect(performed).toEqual([]);
    await expect(history.settled()).rejects.toThrow(unwritten);
    await expect(history.append(stepEnd('send'))).rejects.toThrow(unwritten);
    expect(() => history.appendEnd(stepEnd('send'))).toThrow(unwritten);
  });

  it('settles once every end written so far is durable', async () => {
    const { history, durable } = withSlowEnds();
    history.appendEnd(stepEnd('a'));
    history.appendEnd(stepEnd('b'));
    let settled = false;
    const done = history.settled().then(() => (settled = true));
    durable();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    durable();
    await done;
    expect(history.stepEnd('b')?.status).toBe('succeeded');
  });
});
