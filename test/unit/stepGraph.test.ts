/**
 * The order of a runbook's steps: without `needs:` a step follows the one before it; with it, it
 * starts once the steps it names have ended, so independent steps run at the same time. What the
 * editor reports: a need that names no step, a step that needs itself, a cycle, and a template
 * that reads a step which has not ended when it starts.
 */
import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';
import { StepGraph } from '../../daemon/src/conductor/stepGraph';

describe('a step graph', () => {
  it('keeps file order for steps without needs', () => {
    const graph = new StepGraph([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    expect(graph.branches).toBe(false);
    expect(graph.ready(new Set(), new Set())).toEqual(['a']);
    expect(graph.ready(new Set(['a']), new Set(['a']))).toEqual(['b']);
    expect([...graph.before('c')].sort()).toEqual(['a', 'b']);
  });

  it('starts independent steps together and a join once both ended', () => {
    const graph = new StepGraph([
      { id: 'sales', needs: [] },
      { id: 'content', needs: [] },
      { id: 'summary', needs: ['sales', 'content'] },
      { id: 'send' },
    ]);
    expect(graph.branches).toBe(true);
    expect(graph.ready(new Set(), new Set())).toEqual(['sales', 'content']);
    expect(graph.ready(new Set(), new Set(['sales', 'content']))).toEqual([]);
    expect(graph.ready(new Set(['sales']), new Set(['sales', 'content']))).toEqual([]);
    expect(graph.ready(new Set(['sales', 'content']), new Set(['sales', 'content']))).toEqual(['summary']);
    expect([...graph.before('send')].sort()).toEqual(['content', 'sales', 'summary']);
    expect(graph.before('content').size).toBe(0);
  });

  it('names needs that go nowhere and each cycle once', () => {
    const steps = [
      { id: 'a', needs: ['c'] },
      { id: 'b', needs: ['a'] },
      { id: 'c', needs: ['b'] },
      { id: 'd', needs: ['d', 'nope'] },
    ];
    const problems = new StepGraph(steps).problems(steps);
    expect(problems).toEqual([
      { index: 3, need: 0, message: 'step "d" cannot need itself' },
      { index: 3, need: 1, message: '"nope" is not a step of this runbook (steps: a, b, c, d)' },
      {
        index: 0,
        message: 'steps need each other in a cycle, so none of them can start: a needs c needs b needs a',
      },
    ]);
  });
});

const RUNBOOK = (steps: string): string => `apiVersion: keel/v1
name: weekly-ops
role: Operations lead
description: The week's sales and content, in parallel.
steps:
${steps}`;

describe('a runbook with needs', () => {
  it('parses parallel branches and a join that reads both', () => {
    const parsed = parseRunbook(
      RUNBOOK(`  - { id: sales, type: llm, prompt: Sales, needs: [] }
  - { id: content, type: llm, prompt: Content, needs: [] }
  - id: summary
    type: llm
    needs: [sales, content]
    prompt: "{{ steps.sales.output }} {{ steps.content.output }}"
`),
      'runbooks/weekly-ops.yaml',
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.runbook?.steps.map((step) => step.needs)).toEqual([[], [], ['sales', 'content']]);
  });

  it('reports a dangling need, a cycle and a read of a parallel branch at their places', () => {
    const parsed = parseRunbook(
      RUNBOOK(`  - { id: sales, type: llm, prompt: Sales, needs: [] }
  - { id: content, type: llm, prompt: "{{ steps.sales.output }}", needs: [] }
  - { id: loop, type: llm, prompt: x, needs: [again] }
  - { id: again, type: llm, prompt: x, needs: [loop, missing] }
`),
      'runbooks/weekly-ops.yaml',
    );
    expect(parsed.runbook).toBeNull();
    const at = parsed.problems.map((p) => [p.line, p.message]);
    expect(at).toEqual(
      expect.arrayContaining([
        [9, 'steps.3.needs.1: "missing" is not a step of this runbook (steps: sales, content, loop, again)'],
        [
          8,
          'steps.2.needs: steps need each other in a cycle, so none of them can start: loop needs again needs loop',
        ],
        [7, 'steps.1.prompt: "steps.sales" has not ended when this step starts (add it to needs:)'],
      ]),
    );
    expect(at).toHaveLength(3);
  });
});
