/**
 * Templates of text and bare variable paths are rendered without the template worker (issue 14):
 * every answer must be the one Liquid gives (expressions.ts), and whatever this reading is not sure
 * of must be left to Liquid.
 */
import { describe, expect, it } from 'vitest';
import {
  renderTemplate as liquidValue,
  renderText as liquidText,
} from '../../daemon/src/conductor/expressions';
import { renderSimple } from '../../daemon/src/conductor/simpleTemplates';
import { renderTemplate, renderText } from '../../daemon/src/conductor/templates';

const scope = {
  inputs: { topic: 'renewals', count: 3, ratio: 0.5, yes: true, none: null, 'with-dash': 'd' },
  steps: {
    s0: { output: 'ok', status: 'succeeded' },
    plan: { output: { items: ['a', 'b'], n: 1, nested: { deep: 'x' } }, status: 'succeeded' },
    list: { output: ['one', 'two'], status: 'succeeded' },
    sized: { output: { size: 9, first: 'f' }, status: 'succeeded' },
  },
  run: { id: 'r1', runbook: 'ten' },
};

const answered = [
  'Step 1. {{ steps.s0.output }}',
  '{{ inputs.topic }}',
  '  {{inputs.topic}}  ',
  'a {{ inputs.count }} b {{ inputs.ratio }} c {{ inputs.yes }} d {{ inputs.none }} e',
  'plan: {{ steps.plan.output }}',
  '{{ steps.plan.output }}',
  '{{ steps.plan.output.nested }} and {{ steps.plan.output.nested.deep }}',
  '{{ inputs.with-dash }} / {{ run.id }}:{{ run.runbook }}',
  '{{\n  steps.s0.output\n}} closes }} and { opens',
  '{{ inputs.count }}',
  '{{ inputs.none }}',
];

const leftToLiquid = [
  'no tags at all',
  '{{ steps.missing.output }}',
  '{{ steps.list.output }}',
  '{{ steps.list.output.first }}',
  '{{ steps.sized.output.size }}',
  '{{ steps.plan.output.items.size }}',
  '{{ inputs.topic | upcase }}',
  '{{- inputs.topic -}}',
  '{% if inputs.yes %}yes{% endif %}',
  '{{ "literal" }}',
  '{{ true }}',
  '{{ nil }}',
  '{{ inputs.topic.size }}',
  '{{ inputs.topic',
  '{{ steps.s0.output.constructor }}',
  '{{ inputs[0] }}',
  '{{ toString }}',
];

describe('renderSimple', () => {
  it('renders text and bare paths as Liquid does, as text and as a value', () => {
    for (const template of answered) {
      expect(renderSimple(template, scope, 'text'), template).toEqual({ value: liquidText(template, scope) });
      expect(renderSimple(template, scope, 'value'), template).toEqual({
        value: liquidValue(template, scope),
      });
    }
  });

  it('leaves to Liquid what it is not sure of: missing values, arrays, size/first/last, filters, tags', () => {
    for (const template of leftToLiquid) {
      expect(renderSimple(template, scope, 'text'), template).toBeNull();
      expect(renderSimple(template, scope, 'value'), template).toBeNull();
    }
  });

  it('leaves long text to Liquid and its limits', () => {
    const long = { inputs: { text: 'x'.repeat(200_000) } };
    expect(renderSimple('{{ inputs.text }}', long, 'text')).toBeNull();
    // A value named many times stops at the limit, not after writing it out every time.
    const many = { inputs: { o: { text: 'y'.repeat(1_000) } } };
    expect(renderSimple('{{ inputs.o }}'.repeat(5_000), many, 'text')).toBeNull();
  });

  it('gives callers a copy they may change, and the same text as the worker', async () => {
    const value = { inputs: { o: { a: 1 } } };
    const rendered = (await renderTemplate('{{ inputs.o }}', value)) as { a: number };
    expect(rendered).toEqual({ a: 1 });
    rendered.a = 2;
    expect(value.inputs.o.a).toBe(1);
    expect(await renderText('o = {{ inputs.o }}', value)).toBe('o = {"a":1}');
    // Left to the worker: the same answer comes back.
    expect(await renderText('{{ inputs.o | json }}', value)).toBe('{"a":1}');
  });
});
