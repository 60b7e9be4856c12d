/** Completion and hovers for runbooks, derived from the JSON Schema generated from the zod schema. */
import { describe, expect, it } from 'vitest';
import { Runbook, toInputJsonSchema } from '@keel/schemas';
import { SchemaAssist } from '../../daemon/src/editor/schemaAssist';

const assist = new SchemaAssist(toInputJsonSchema(Runbook));
const position = (offset: number) => ({ line: 0, character: offset });

function labels(source: string): string[] {
  return assist.complete(source.replace('|', ''), source.indexOf('|'), position).map((item) => item.label);
}

describe('runbook completion', () => {
  it('offers the keys every step has until its type is chosen', () => {
    expect(labels(`steps:\n  - |\n`)).toEqual(['id', 'when', 'needs', 'retry', 'timeoutSeconds', 'type']);
  });

  it('offers budget keys with their description, inserting the colon', () => {
    const [item] = assist.complete(`budget:\n  maxU\n`, 14, position);
    expect(item).toMatchObject({
      label: 'maxUsd',
      detail: 'number',
      documentation: { value: expect.stringContaining('Largest spend') },
      textEdit: { newText: 'maxUsd: ' },
    });
  });

  it('offers the keys of an input and the values of its type', () => {
    expect(labels(`inputs:\n  customer:\n    |\n`)).toEqual(
      expect.arrayContaining(['type', 'description', 'required', 'default', 'enum']),
    );
    expect(labels(`inputs:\n  customer:\n    type: |\n`)).toEqual(['string', 'number', 'integer', 'boolean']);
  });

  it('offers the tools an agent may use, not those already allowed', () => {
    const source = `steps:\n  - id: a\n    type: agent\n    tools:\n      - memory.search\n      - |\n`;
    expect(labels(source)).toEqual(['memory.read', 'propose', 'fs.outbox@1']);
  });

  it('documents each step type with what the step does', () => {
    const items = assist.complete(`steps:\n  - type: \n`, 17, position);
    expect(items.find((item) => item.label === 'propose')?.documentation).toMatchObject({
      value: expect.stringContaining('approves'),
    });
  });
});

describe('analytics steps in the editor', () => {
  it('offers the query step and its fields, and the keys of into: on a connector step', () => {
    expect(labels(`steps:\n  - type: |\n`)).toEqual(expect.arrayContaining(['query', 'import']));
    expect(labels(`steps:\n  - id: a\n    type: query\n    |\n`)).toEqual(
      expect.arrayContaining(['sql', 'params', 'maxRows']),
    );
    const into = `steps:\n  - id: a\n    type: connector\n    use: stats\n    into:\n      |\n`;
    expect(labels(into)).toEqual(expect.arrayContaining(['table', 'rows', 'mode', 'key']));
    const mode = `steps:\n  - id: a\n    type: connector\n    use: stats\n    into:\n      mode: |\n`;
    expect(labels(mode)).toEqual(['replace', 'append']);
  });
});

describe('runbook hover', () => {
  it('names the type, the description and the default', () => {
    const text = `steps:\n  - id: a\n    type: agent\n    maxIterations: 3\n`;
    const hover = assist.hover(text, text.indexOf('maxIterations'), position);
    expect(hover?.contents).toMatchObject({
      value: '**maxIterations**: `integer`\n\nModel turns before the step gives up.\n\nDefault: `8`',
    });
  });
});
