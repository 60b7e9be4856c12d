/**
 * The values the operator types for a runbook's inputs: checked as they type and turned into the
 * typed values a run starts with. Pure, so the rules are unit-tested without an editor.
 */
import type { RunbookInputInfo } from '@keel/schemas';

export type InputValue = string | number | boolean;

/** What the operator typed, judged: a value to use, nothing (an optional input left empty), or why not. */
export type ParsedInput = { ok: true; value: InputValue | undefined } | { ok: false; message: string };

export function parseInputText(input: RunbookInputInfo, text: string): ParsedInput {
  const trimmed = text.trim();
  if (trimmed === '') {
    return input.required
      ? { ok: false, message: `${input.name} is required.` }
      : { ok: true, value: undefined };
  }
  switch (input.type) {
    case 'string':
      return { ok: true, value: text };
    case 'number':
    case 'integer':
      return parseNumber(input, trimmed);
    case 'boolean':
      return parseBoolean(trimmed);
  }
}

function parseNumber(input: RunbookInputInfo, text: string): ParsedInput {
  // Number('') is 0 and Number('0x10') is 16: accept plain decimal notation only.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    return { ok: false, message: `${input.name} must be a number, such as 12 or 0.5.` };
  }
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: `${input.name} is too large.` };
  if (input.type === 'integer' && !Number.isInteger(value)) {
    return { ok: false, message: `${input.name} must be a whole number.` };
  }
  return { ok: true, value };
}

function parseBoolean(text: string): ParsedInput {
  const lower = text.toLowerCase();
  if (['yes', 'true', 'y'].includes(lower)) return { ok: true, value: true };
  if (['no', 'false', 'n'].includes(lower)) return { ok: true, value: false };
  return { ok: false, message: 'Answer yes or no.' };
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
