/** A run's inputs checked against what its runbook declares: types coerced, defaults applied. */
import { readRunInput, type Runbook, type RunbookInput, type RunInputProblem } from '@keel/schemas';
import { OperatorError } from '../errors';

export type InputValues = Record<string, string | number | boolean>;

export class InputError extends OperatorError {}

export function checkInputs(runbook: Runbook, given: InputValues): InputValues {
  const declared = runbook.inputs;
  const unknown = Object.keys(given).filter((name) => !(name in declared));
  if (unknown.length > 0) {
    const names = Object.keys(declared).join(', ') || 'none';
    throw new InputError(
      `${runbook.name} has no input ${unknown.map((n) => `"${n}"`).join(', ')} (its inputs: ${names})`,
    );
  }
  const values: InputValues = {};
  for (const [name, input] of Object.entries(declared)) {
    const raw = given[name] ?? input.default;
    if (raw === undefined || raw === '') {
      if (input.required === false) continue;
      throw new InputError(
        `${runbook.name} needs the input "${name}"${input.description ? ` (${input.description})` : ''}`,
      );
    }
    const value = coerce(name, input.type, raw);
    if (input.enum && !input.enum.includes(value as string | number)) {
      throw new InputError(`input "${name}" must be one of ${input.enum.join(', ')}, not "${String(raw)}"`);
    }
    values[name] = value;
  }
  return values;
}

const WANTED: Record<RunInputProblem, string> = {
  notANumber: 'a number',
  tooLarge: 'a number',
  notWhole: 'a whole number',
  notYesNo: 'true or false',
};

/** Read as the extension reads what the operator types (@keel/schemas), worded for an error. */
function coerce(
  name: string,
  type: RunbookInput['type'],
  raw: string | number | boolean,
): string | number | boolean {
  const read =
    typeof raw === 'boolean' && type === 'boolean'
      ? { ok: true as const, value: raw }
      : readRunInput(type, String(raw));
  if (read.ok) return read.value;
  throw new InputError(`input "${name}" must be ${WANTED[read.problem]}, not "${String(raw)}"`);
}
