/** A run's inputs checked against what its runbook declares: types coerced, defaults applied. */
import type { Runbook } from '@keel/schemas';
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

function coerce(name: string, type: string, raw: string | number | boolean): string | number | boolean {
  if (type === 'string') return String(raw);
  if (type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (/^(true|yes|1)$/i.test(String(raw))) return true;
    if (/^(false|no|0)$/i.test(String(raw))) return false;
    throw new InputError(`input "${name}" must be true or false, not "${String(raw)}"`);
  }
  const number = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (String(raw).trim() === '' || !Number.isFinite(number)) {
    throw new InputError(`input "${name}" must be a number, not "${String(raw)}"`);
  }
  if (type === 'integer' && !Number.isInteger(number)) {
    throw new InputError(`input "${name}" must be a whole number, not "${String(raw)}"`);
  }
  return number;
}
