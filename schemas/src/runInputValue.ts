/**
 * How the text given for a runbook input reads as its declared type, one rule for every side: the
 * daemon checking a run's inputs (from the CLI, a trigger, a child run, an eval) and the extension
 * checking what the operator types. Each side words the problem its own way.
 */
export type RunInputValue = string | number | boolean;

export type RunInputType = 'string' | 'number' | 'integer' | 'boolean';

export type RunInputProblem = 'notANumber' | 'tooLarge' | 'notWhole' | 'notYesNo';

export type RunInputReading = { ok: true; value: RunInputValue } | { ok: false; problem: RunInputProblem };

/** Plain decimal notation: `Number` alone would read '' as 0 and '0x10' as 16. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const YES = new Set(['yes', 'y', 'true', '1']);
const NO = new Set(['no', 'n', 'false', '0']);

/** A string is kept as given; numbers and booleans are read from the trimmed text. */
export function readRunInput(type: RunInputType, text: string): RunInputReading {
  if (type === 'string') return { ok: true, value: text };
  const trimmed = text.trim();
  if (type === 'boolean') {
    const lower = trimmed.toLowerCase();
    if (YES.has(lower)) return { ok: true, value: true };
    if (NO.has(lower)) return { ok: true, value: false };
    return { ok: false, problem: 'notYesNo' };
  }
  if (!DECIMAL.test(trimmed)) return { ok: false, problem: 'notANumber' };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { ok: false, problem: 'tooLarge' };
  if (type === 'integer' && !Number.isInteger(value)) return { ok: false, problem: 'notWhole' };
  return { ok: true, value };
}
