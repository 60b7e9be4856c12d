/**
 * Runbook text without templates (no `{` in it) is checked and rendered without Liquid and without
 * the template worker, so a run whose steps hold none starts sooner (issue 14): the answers must be
 * the ones Liquid gives, and text with templates must still go through Liquid.
 */
import { describe, expect, it } from 'vitest';
import { TEMPLATE_LIMITS, templateError } from '../../daemon/src/conductor/expressions';
import { renderDeep, renderText, TemplateError } from '../../daemon/src/conductor/templates';

describe('templateError', () => {
  it('finds plain text fine, and still names a broken template and text past the length limit', () => {
    expect(templateError('written: 50% off } and no template')).toBeNull();
    expect(templateError('{{ inputs.name')).not.toBeNull();
    expect(templateError("{% include 'secret.txt' %}")).toMatch(/not available in runbooks/);
    expect(templateError('x'.repeat(TEMPLATE_LIMITS.parseLimit + 1))).toMatch(/limit exceeded/);
  });
});

describe('rendering', () => {
  it('gives a value without templates back unchanged, as a copy the caller may change', async () => {
    const value = { path: 'outbox/a.md', lines: ['one', 2, true, null], nested: { text: 'plain' } };
    const rendered = (await renderDeep(value, {})) as typeof value;
    expect(rendered).toEqual(value);
    rendered.nested.text = 'changed';
    expect(value.nested.text).toBe('plain');
  });

  it('renders the templates in a value next to plain text', async () => {
    const scope = { inputs: { who: 'Ann', items: [1, 2] } };
    expect(
      await renderDeep({ to: '{{ inputs.who }}', items: '{{ inputs.items }}', fixed: 'x' }, scope),
    ).toEqual({ to: 'Ann', items: [1, 2], fixed: 'x' });
    expect(await renderText('Hello {{ inputs.who }}', scope)).toBe('Hello Ann');
  });

  it('refuses plain text past the length limit, as Liquid does', async () => {
    await expect(renderText('x'.repeat(TEMPLATE_LIMITS.parseLimit + 1), {})).rejects.toBeInstanceOf(
      TemplateError,
    );
  });
});
