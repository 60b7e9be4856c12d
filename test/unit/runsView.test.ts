/** What the operator sees of runs in the editor: input prompts, the runs list and the trace. */
import { describe, expect, it } from 'vitest';
import { AsOf, type RunbookInputInfo, type RunSummary, type RunTrace } from '@keel/schemas';
import { defaultText, inputPrompt, parseInputText } from '../../extension/src/runs/inputValues';
import {
  describeRun,
  formatUsd,
  isAtLeastAsRecent,
  mergeRun,
  sortRuns,
} from '../../extension/src/runs/runList';
import { renderTrace } from '../../extension/src/runs/traceMarkdown';
import { describeTrace } from '../../daemon/src/cli/runFormat';

const input = (change: Partial<RunbookInputInfo>): RunbookInputInfo => ({
  name: 'seats',
  type: 'string',
  description: null,
  required: true,
  default: null,
  enum: null,
  ...change,
});

const run = (change: Partial<RunSummary>): RunSummary => ({
  id: 'r1',
  runbook: 'welcome',
  status: 'running',
  inputs: { customer: 'Acme' },
  startedAt: '2026-11-25T08:55:00.000Z',
  endedAt: null,
  currentStep: 'find',
  stepsDone: 1,
  stepsTotal: 2,
  costUsd: 0.00042,
  tokens: 1830,
  error: null,
  escalation: null,
  waitingFor: null,
  outputs: null,
  ...change,
});

describe('runbook inputs', () => {
  it('refuses an empty required input and skips an empty optional one', () => {
    expect(parseInputText(input({}), '  ')).toEqual({ ok: false, message: 'seats is required.' });
    expect(parseInputText(input({ required: false }), '')).toEqual({ ok: true, value: undefined });
  });

  it('checks numbers as they are typed, and whole numbers for integers', () => {
    const seats = input({ type: 'integer' });
    expect(parseInputText(seats, '12')).toEqual({ ok: true, value: 12 });
    expect(parseInputText(seats, '12.5')).toEqual({ ok: false, message: 'seats must be a whole number.' });
    expect(parseInputText(seats, '12a').ok).toBe(false);
    expect(parseInputText(seats, '0x10').ok).toBe(false);
    const amount = input({ name: 'amount', type: 'number' });
    expect(parseInputText(amount, '-0.5')).toEqual({ ok: true, value: -0.5 });
    expect(parseInputText(amount, '1e400')).toEqual({ ok: false, message: 'amount is too large.' });
  });

  it('keeps strings as typed and reads yes/no as booleans', () => {
    expect(parseInputText(input({}), ' Acme ')).toEqual({ ok: true, value: ' Acme ' });
    expect(parseInputText(input({ type: 'boolean' }), 'Yes')).toEqual({ ok: true, value: true });
    expect(parseInputText(input({ type: 'boolean' }), 'maybe').ok).toBe(false);
  });

  it('prefills defaults and says what is asked', () => {
    expect(defaultText(input({ type: 'integer', default: 3 }))).toBe('3');
    expect(defaultText(input({}))).toBe('');
    expect(inputPrompt(input({ type: 'integer' }))).toBe('seats (whole number)');
    expect(inputPrompt(input({ required: false, description: 'Seats bought' }))).toBe(
      'Seats bought (optional: leave empty to skip)',
    );
  });
});

describe('runs list', () => {
  it('keeps the most recent first, replaces a changed run and caps the list', () => {
    const older = run({ id: 'a', startedAt: '2026-11-25T08:00:00.000Z' });
    const newer = run({ id: 'b', startedAt: '2026-11-25T09:00:00.000Z' });
    expect(sortRuns([older, newer]).map((r) => r.id)).toEqual(['b', 'a']);
    const done = { ...older, status: 'succeeded' as const };
    expect(mergeRun([newer, older], done)).toEqual([newer, done]);
    const newest = run({ id: 'c', startedAt: '2026-11-25T10:00:00.000Z' });
    expect(mergeRun([newer, older], newest, 2).map((r) => r.id)).toEqual(['c', 'b']);
  });

  it('orders two reports of one run by how far along they are', () => {
    const queued = run({ status: 'queued', stepsDone: 0, costUsd: 0 });
    const second = run({ stepsDone: 2 });
    const done = run({ status: 'succeeded', stepsDone: 2 });
    expect(isAtLeastAsRecent(second, queued)).toBe(true);
    expect(isAtLeastAsRecent(queued, second)).toBe(false);
    expect(isAtLeastAsRecent(done, second)).toBe(true);
    expect(isAtLeastAsRecent(second, done)).toBe(false);
    expect(isAtLeastAsRecent(second, second)).toBe(true);
  });

  it('shows cost so that a cheap run does not read as free', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(0.00042)).toBe('$0.0004');
    expect(formatUsd(0.0000042)).toBe('<$0.0001');
    expect(formatUsd(1.234)).toBe('$1.23');
  });

  it('describes a run in words for screen readers', () => {
    const now = Date.parse('2026-11-25T08:55:12.000Z');
    expect(describeRun(run({}), now)).toBe('welcome running, step find, 1 of 2 steps, $0.0004, 12.0 s');
  });
});

const UNCHANGED = { path: 'runbooks/welcome.yaml', blob: '1a2b3c4d5e6f', file: 'unchanged' } as const;

describe('run trace', () => {
  const trace: RunTrace = {
    run: run({
      status: 'failed',
      endedAt: '2026-11-25T08:55:02.000Z',
      error: 'Step "draft" failed: the model answered 500 three times.',
    }),
    runbook: { path: 'runbooks/welcome.yaml', blob: '1a2b3c4d5e6f', file: 'changed' },
    steps: [
      {
        id: 'find',
        type: 'retrieve',
        status: 'succeeded',
        startedAt: '2026-11-25T08:55:00.000Z',
        endedAt: '2026-11-25T08:55:00.120Z',
        durationMs: 120,
        input: { query: 'Acme' },
        output: [{ path: 'memory/customers/acme.md' }],
        error: null,
        modelCalls: [],
        retrieved: [{ path: 'memory/customers/acme.md', startLine: 4, endLine: 9, score: 0.91 }],
      },
      {
        id: 'draft',
        type: 'llm',
        status: 'failed',
        startedAt: '2026-11-25T08:55:00.200Z',
        endedAt: '2026-11-25T08:55:02.000Z',
        durationMs: 1800,
        input: null,
        output: null,
        error: 'HTTP 500',
        modelCalls: [
          {
            tier: 'fast',
            model: 'gpt-4o-mini',
            attempt: 1,
            latencyMs: 600,
            inputTokens: 1200,
            outputTokens: 630,
            costUsd: 0.00042,
            outcome: 'http_500',
            request: {
              messages: [
                { role: 'system', content: 'You write welcome notes.' },
                { role: 'user', content: 'Use ```code``` fences.' },
              ],
            },
            response: null,
          },
        ],
        retrieved: [],
      },
    ],
  };
  const rendered = renderTrace(trace, { now: 0, live: false, formatTime: (iso) => iso });
  const lines = rendered.text.split('\n');

  it('shows status, error, inputs, then each step with its type, status, timings and cost', () => {
    expect(lines[0]).toBe('# Run of welcome: ✕ failed');
    expect(rendered.text).toContain('- **Duration:** 2.0 s');
    expect(rendered.text).toContain('- **Cost:** $0.0004 (1,830 tokens)');
    expect(rendered.text).toContain(
      '- **Runbook:** runbooks/welcome.yaml @ 1a2b3c4 (changed since; this run keeps the version it started with)',
    );
    expect(rendered.text).toContain('## Error\n\n```text\nStep "draft" failed');
    expect(rendered.text).toContain('"customer": "Acme"');
    expect(rendered.text).toContain('### 1. find (retrieve): succeeded');
    expect(rendered.text).toContain('took 120 ms · no model calls');
    expect(rendered.text).toContain('### 2. draft (llm): failed');
    expect(rendered.text).toContain('1 model call(s), 1,830 tokens, $0.0004');
    expect(rendered.text).toContain('gpt-4o-mini, http_500, attempt 1, 600 ms');
    expect(rendered.text).not.toContain('Live:');
  });

  it('shows each prompt in a fence its own backticks cannot close', () => {
    expect(rendered.text).toContain('_Prompt, system:_\n\n```text\nYou write welcome notes.\n```');
    expect(rendered.text).toContain('````text\nUse ```code``` fences.\n````');
  });

  it('locates each retrieved chunk so the editor can link it to its file and line', () => {
    const files = rendered.links.filter((link) => link.kind === 'file');
    expect(files).toEqual([expect.objectContaining({ path: 'memory/customers/acme.md', targetLine: 4 })]);
    const link = files[0]!;
    expect(lines[link.line]!.slice(link.startColumn, link.endColumn)).toBe('memory/customers/acme.md:4-9');
  });

  it('offers memory as it was in git when the run started, for audits', () => {
    const asOf = rendered.links.filter((link) => link.kind === 'memoryAsOf');
    expect(asOf).toEqual([expect.objectContaining({ asOf: trace.run.startedAt })]);
    const link = asOf[0]!;
    expect(lines[link.line]).toBe('- **Memory:** Search memory as of this run');
    expect(lines[link.line]!.slice(link.startColumn, link.endColumn)).toBe('Search memory as of this run');
    // `keel show` prints the same view as a command, with a start time `--as-of` accepts.
    expect(describeTrace(trace)).toContain(
      `  memory then: keel search --as-of ${trace.run.startedAt} "QUERY"`,
    );
    expect(AsOf.safeParse(trace.run.startedAt).success).toBe(true);
  });

  it('says when it is live', () => {
    const live = renderTrace(
      { run: run({}), runbook: UNCHANGED, steps: [] },
      { now: 0, live: true, formatTime: (i) => i },
    );
    expect(live.text).toContain('_Live: this trace refreshes as the run goes on._');
    expect(live.text).toContain('_No step has started yet._');
  });

  it('links a child run to its parent and a hand-off step to its child, both ways', () => {
    const parentId = '20261202-090000-weekly-1a2b3c';
    const child = renderTrace(
      {
        run: run({ id: `${parentId}.sales`, runbook: 'sales', parent: { runId: parentId, stepId: 'sales' } }),
        runbook: UNCHANGED,
        steps: [],
      },
      { now: 0, live: false, formatTime: (i) => i },
    );
    const up = child.links.find((link) => link.kind === 'run')!;
    expect(child.text.split('\n')[up.line]).toBe(`- **Handed off by:** ${parentId} (its step sales)`);
    expect(up).toMatchObject({ runId: parentId, startColumn: '- **Handed off by:** '.length });

    const parent = renderTrace(
      {
        run: run({ id: parentId, runbook: 'weekly', waitingForRun: `${parentId}.sales` }),
        runbook: UNCHANGED,
        steps: [
          {
            id: 'sales',
            type: 'runbook',
            status: 'running',
            startedAt: '2026-12-02T09:00:00.000Z',
            endedAt: null,
            durationMs: null,
            input: { runbook: 'sales', inputs: { week: 48 } },
            output: null,
            error: null,
            modelCalls: [],
            children: [{ runId: `${parentId}.sales`, runbook: 'sales', status: null }],
            retrieved: [],
          },
        ],
      },
      { now: 0, live: true, formatTime: (i) => i },
    );
    const down = parent.links.filter((link) => link.kind === 'run');
    expect(down.map((link) => parent.text.split('\n')[link.line])).toEqual([
      `- **Waiting for its child run:** ${parentId}.sales`,
      `- ${parentId}.sales (sales): under way`,
    ]);
    expect(down.every((link) => link.kind === 'run' && link.runId === `${parentId}.sales`)).toBe(true);
  });
});

describe('a run taken over, waiting at a checkpoint', () => {
  const step = {
    startedAt: null,
    endedAt: null,
    durationMs: null,
    input: null,
    output: null,
    error: null,
    modelCalls: [],
    retrieved: [],
  };
  const trace: RunTrace = {
    run: run({ status: 'waiting_operator', waitingFor: 'look', takeovers: 1 }),
    runbook: UNCHANGED,
    takeovers: [{ fromStep: 'draft', supplied: true, at: '2026-11-25T09:00:00.000Z' }],
    steps: [
      { ...step, id: 'draft', type: 'llm', status: 'succeeded', output: 'by hand', supplied: true },
      { ...step, id: 'look', type: 'checkpoint', status: 'waiting_operator' },
    ],
  };
  const rendered = renderTrace(trace, { now: 0, live: true, formatTime: (iso) => iso });

  it('says who supplied which output, when the run was taken over, and what it waits for', () => {
    expect(rendered.text).toContain('# Run of welcome: ⏸ waiting at a checkpoint');
    expect(rendered.text).toContain(
      '- **Taken over:** 2026-11-25T09:00:00.000Z from step draft, with its output supplied by you',
    );
    expect(rendered.text).toContain('### 1. draft (llm): succeeded (output supplied by you)');
    expect(rendered.text).toContain(
      '### 2. look (checkpoint): waiting at a checkpoint ("Keel: Answer Checkpoint…")',
    );
  });

  it('orders the report of a run taken over after that of its earlier end', () => {
    const ended = run({ status: 'failed', endedAt: '2026-11-25T08:56:00.000Z', stepsDone: 2 });
    const again = run({ status: 'queued', stepsDone: 1, takeovers: 1 });
    expect(isAtLeastAsRecent(again, ended)).toBe(true);
    expect(isAtLeastAsRecent(ended, again)).toBe(false);
  });
});
