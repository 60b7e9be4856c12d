/** The path at a position in a YAML document, including half-typed text that does not parse. */
import { describe, expect, it } from 'vitest';
import { cursorContext, keyAt } from '../../daemon/src/editor/yamlCursor';

/** The context at the `|` in `source` (the bar is removed). */
function at(source: string): ReturnType<typeof cursorContext> {
  return cursorContext(source.replace('|', ''), source.indexOf('|'));
}

const STEPS = `apiVersion: keel/v1
steps:
  - id: plan
    type: llm
`;

describe('cursorContext', () => {
  it('puts a half-typed word inside a list item into that item, with its siblings', () => {
    const context = at(`${STEPS}    bud|\n  - id: next\n    type: retrieve\n`);
    expect(context).toMatchObject({ kind: 'key', mapPath: ['steps', 0], startsItem: false });
    expect(context?.document).toEqual({
      apiVersion: 'keel/v1',
      steps: [
        { id: 'plan', type: 'llm' },
        { id: 'next', type: 'retrieve' },
      ],
    });
    expect(context?.word).toEqual({ start: STEPS.length + 4, end: STEPS.length + 7 });
  });

  it('reads an empty line by its indentation', () => {
    expect(at(`${STEPS}|`)).toMatchObject({ kind: 'key', mapPath: [] });
    expect(at(`${STEPS}    |`)).toMatchObject({ kind: 'key', mapPath: ['steps', 0] });
    expect(at(`budget:\n  maxUsd: 1\n  |\nname: x\n`)).toMatchObject({ kind: 'key', mapPath: ['budget'] });
  });

  it('finds the value of a key, leaving that key out of the document', () => {
    const context = at(`steps:\n  - id: a\n    type: ll|\n`);
    expect(context).toMatchObject({ kind: 'value', key: 'type', mapPath: ['steps', 0] });
    expect(context?.document).toEqual({ steps: [{ id: 'a' }] });
  });

  it('marks a new list item, which may be a plain value', () => {
    expect(at(`tools:\n  - memory.read\n  - mem|\n`)).toMatchObject({
      kind: 'key',
      startsItem: true,
      mapPath: ['tools', 1],
    });
    expect(at(`steps:\n  - |\n`)).toMatchObject({ kind: 'key', startsItem: true, mapPath: ['steps', 0] });
  });

  it('replaces the whole key under the cursor and notices the colon after it', () => {
    const context = at(`budget:\n  max|Usd: 3\n`);
    expect(context).toMatchObject({ kind: 'key', mapPath: ['budget'], colonFollows: true });
    expect(context?.word).toEqual({ start: 10, end: 16 });
  });

  it('says nothing inside a comment', () => {
    expect(at(`name: x # a comm|ent`)).toBeNull();
    expect(at(`# a comm|ent`)).toBeNull();
  });
});

describe('keyAt', () => {
  it('gives the full path of the key under the cursor', () => {
    const text = `${STEPS}budget:\n  maxUsd: 3\n`;
    expect(keyAt(text, text.indexOf('maxUsd') + 2)).toMatchObject({
      path: ['budget', 'maxUsd'],
      span: { start: text.indexOf('maxUsd'), end: text.indexOf('maxUsd') + 6 },
    });
    expect(keyAt(text, text.indexOf('type') + 1)?.path).toEqual(['steps', 0, 'type']);
    expect(keyAt(text, text.indexOf('llm') + 1)).toBeNull();
  });
});
