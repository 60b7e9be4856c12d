/**
 * A runbook input's text reads the same in the extension's input box and in the daemon's check of
 * a run's inputs (from the CLI, a trigger, a child run): one rule in @keel/schemas, two wordings.
 */
import { describe, expect, it } from 'vitest';
import type { Runbook, RunbookInputInfo } from '@keel/schemas';
import { checkInputs } from '../../daemon/src/conductor/runInputs';
import { parseInputText } from '../../extension/src/runs/inputValues';

type Kind = RunbookInputInfo['type'];

function inExtension(type: Kind, text: string): unknown {
  const parsed = parseInputText(
    { name: 'x', type, description: null, required: true, default: null, enum: null },
    text,
  );
  return parsed.ok ? parsed.value : 'refused';
}

function inDaemon(type: Kind, text: string): unknown {
  const runbook = { name: 'probe', inputs: { x: { type, required: true } } } as unknown as Runbook;
  try {
    return checkInputs(runbook, { x: text }).x;
  } catch {
    return 'refused';
  }
}

const CASES: [Kind, string, unknown][] = [
  ['integer', '12', 12],
  ['integer', ' 12 ', 12],
  ['integer', '12.5', 'refused'],
  ['integer', '0x10', 'refused'],
  ['number', '-0.5', -0.5],
  ['number', '1e3', 1000],
  ['number', '1e400', 'refused'],
  ['number', '12a', 'refused'],
  ['boolean', 'Yes', true],
  ['boolean', 'y', true],
  ['boolean', 'TRUE', true],
  ['boolean', '0', false],
  ['boolean', 'no', false],
  ['boolean', 'maybe', 'refused'],
  ['string', ' Acme ', ' Acme '],
];

describe('run input values', () => {
  it.each(CASES)('%s %j reads as %j on both sides', (type, text, expected) => {
    expect(inExtension(type, text)).toEqual(expected);
    expect(inDaemon(type, text)).toEqual(expected);
  });

  it('words a refusal for the input box and for an error', () => {
    expect(
      parseInputText(
        { name: 'seats', type: 'integer', description: null, required: true, default: null, enum: null },
        '2.5',
      ),
    ).toEqual({
      ok: false,
      message: 'seats must be a whole number.',
    });
    expect(() =>
      checkInputs(
        { name: 'p', inputs: { seats: { type: 'integer', required: true } } } as unknown as Runbook,
        { seats: '2.5' },
      ),
    ).toThrow('input "seats" must be a whole number, not "2.5"');
  });
});
