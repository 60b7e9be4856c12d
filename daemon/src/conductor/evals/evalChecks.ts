/**
 * The deterministic checks of an eval case (equals, contains, regex, range, noOutbox), each
 * against the value it names (an output, a JSON path in it). Pure: a check's result depends on the
 * run's outputs and outbox writes only. Regexes come from workspace files, so they are matched by
 * RE2 (re2js) in time linear in the text: no pattern can stall the daemon.
 */
import type { RE2JS } from 're2js';
import { compileLinear } from '../../runtime/re2';
import type { EvalCheck, EvalCheckResult } from '@keel/schemas';

/** What a check sees of a finished run. */
export interface RunView {
  outputs: Record<string, unknown> | null;
  /** Paths the run wrote (captured) under outbox/. */
  outboxWrites: string[];
}

/** The kind of a check: the one of equals, contains, regex, range, noOutbox, rubric it has. */
export function checkKind(check: EvalCheck): string {
  if (check.rubric !== undefined) return 'rubric';
  if (check.noOutbox !== undefined) return 'noOutbox';
  if (check.regex !== undefined) return 'regex';
  if (check.range !== undefined) return 'range';
  if (check.contains !== undefined) return 'contains';
  return 'equals';
}

/** The value a check reads: its output (all outputs when unnamed), then its JSON path; null where there is none. */
export function selectValue(outputs: Record<string, unknown> | null, check: EvalCheck): unknown {
  let value: unknown = check.output === undefined ? (outputs ?? null) : outputs?.[check.output];
  for (const part of pathParts(check.path ?? '')) {
    if (typeof part === 'number') value = Array.isArray(value) ? value[part] : undefined;
    else
      value =
        value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, part)
          ? (value as Record<string, unknown>)[part]
          : undefined;
  }
  return value === undefined ? null : value;
}

/** `$.items[0].name` as `['items', 0, 'name']` (the schema allows only dots and [index]). */
function pathParts(path: string): (string | number)[] {
  return [...path.matchAll(/\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]/g)].map((m) =>
    m[1] !== undefined ? m[1] : Number(m[2]),
  );
}

/** The text a check reads of a value: the string itself, else its JSON. */
export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value ?? null) ?? 'null');
}

/** Grades one deterministic check (not `rubric`: the judge scores those). */
export function gradeCheck(check: EvalCheck, run: RunView): EvalCheckResult {
  const kind = checkKind(check);
  const value = selectValue(run.outputs, check);
  const what = describeTarget(check);
  const text = textOf(value);
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const fail = (detail: string): EvalCheckResult => ({ kind, passed: false, score: 0, detail });
  const pass: EvalCheckResult = { kind, passed: true, score: 1, detail: null };
  switch (kind) {
    case 'noOutbox':
      return run.outboxWrites.length === 0
        ? pass
        : fail(`the run wrote ${run.outboxWrites.join(', ')} (captured by the eval, not written)`);
    case 'contains':
      return text.includes(check.contains!)
        ? pass
        : fail(`${what} does not contain "${check.contains}" (it is: ${shown})`);
    case 'regex':
      return linearRegex(check.regex!).test(text)
        ? pass
        : fail(`${what} does not match /${check.regex}/ (it is: ${shown})`);
    case 'range': {
      const number =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : NaN;
      const { min, max } = check.range!;
      if (!Number.isFinite(number)) return fail(`${what} is not a number (it is: ${shown})`);
      if ((min !== undefined && number < min) || (max !== undefined && number > max))
        return fail(`${what} is ${number}, outside [${min ?? '-∞'}, ${max ?? '∞'}]`);
      return pass;
    }
    case 'equals':
      return JSON.stringify(value) === JSON.stringify(check.equals)
        ? pass
        : fail(`${what} is ${shown}, expected ${JSON.stringify(check.equals)}`);
    default:
      throw new Error(`a ${kind} check is graded by the judge, not here`);
  }
}

function describeTarget(check: EvalCheck): string {
  const output = check.output === undefined ? 'the outputs' : `output "${check.output}"`;
  return check.path ? `${output} at ${check.path}` : output;
}

/**
 * The pattern compiled by RE2: linear time, no lookaround or backreferences. A pattern RE2 cannot
 * take is an error naming it, for the test file's author to fix.
 */
export function linearRegex(pattern: string): RE2JS {
  try {
    return compileLinear(pattern);
  } catch (error) {
    throw new Error(
      `regex ${JSON.stringify(pattern)} is not supported (${(error as Error).message}); eval regexes are ` +
        'matched in linear time (RE2), without lookaround or backreferences: rewrite it in the test file',
      { cause: error },
    );
  }
}
