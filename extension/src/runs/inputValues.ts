/**
 * The values the operator types for a runbook's inputs: checked as they type and turned into the
 * typed values a run starts with. Pure, so the rules are unit-tested without an editor.
 */
import { readRunInput, type RunbookInputInfo, type RunInputProblem, type RunInputValue } from '@keel/schemas';

export type InputValue = RunInputValue;

/** What the operator typed, judged: a value to use, nothing (an optional input left empty), or why not. */
export type ParsedInput = { ok: true; value: InputValue | undefined } | { ok: false; message: string };

/** Read as the daemon reads a run's inputs (@keel/schemas), worded for the input box. */
const PROBLEMS: Record<RunInputProblem, (name: string) => string> = {
  notANumber: (name) => `${name} must be a number, such as 12 or 0.5.`,
  tooLarge: (name) => `${name} is too large.`,
  notWhole: (name) => `${name} must be a whole number.`,
  notYesNo: () => 'Answer yes or no.',
};

export function parseInputText(input: RunbookInputInfo, text: string): ParsedInput {
  if (text.trim() === '') {
    return input.required
      ? { ok: false, message: `${input.name} is required.` }
      : { ok: true, value: undefined };
  }
  const read = readRunInput(input.type, text);
  return read.ok ? read : { ok: false, message: PROBLEMS[read.problem](input.name) };
}

/** The text an input box starts with: the declared default, if any. */
export function defaultText(input: RunbookInputInfo): string {
  return input.default === null ? '' : String(input.default);
}

/** How the input is asked: its description, or its name and type when it has none. */
export function inputPrompt(input: RunbookInputInfo): string {
  const kind = input.type === 'integer' ? 'whole number' : input.type;
  const optional = input.required ? '' : ' (optional: leave empty to skip)';
  return `${input.description ?? `${input.name} (${kind})`}${optional}`;
}
