/**
 * Reads one runbook file: YAML and schema errors, then what the schema cannot see (templates and
 * conditions that do not compile, a step that reads a step not run before it, a declared JSON
 * Schema that cannot check values), each with its exact place in the file.
 */
import { Runbook, type EventTrigger, type Problem } from '@keel/schemas';
import { z } from 'zod';
import { compiledSchema } from '../connectors/linearTimeAjv';
import { builtInEventPayload } from '../connectors/registry';
import { parseYamlWithSchema, problemAt } from '../files/yamlProblems';
import { conditionError, singleExpression, templateError } from './expressions';
import { StepGraph } from './stepGraph';
import { cronError, timeZoneError } from './triggerSchedule';

export interface ParsedRunbook {
  runbook: Runbook | null;
  problems: Problem[];
}

const TEMPLATE_FIELDS = [
  'query',
  'system',
  'prompt',
  'goal',
  'path',
  'content',
  'summary',
  'message',
  'show',
  'forEach',
] as const;

export function parseRunbook(text: string, path: string): ParsedRunbook {
  const parsed = parseYamlWithSchema(text, Runbook, path);
  if (!parsed.ok) return { runbook: null, problems: parsed.problems };
  const runbook = parsed.value;
  const problems: Problem[] = [];
  const check = (where: (string | number)[], error: string | null): void => {
    if (error) problems.push(problemAt(text, where, error, path));
  };
  const graph = new StepGraph(runbook.steps);
  for (const problem of graph.problems(runbook.steps)) {
    const where =
      problem.need === undefined
        ? ['steps', problem.index, 'needs']
        : ['steps', problem.index, 'needs', problem.need];
    problems.push(problemAt(text, where, problem.message, path));
  }
  runbook.steps.forEach((step, index) => {
    const earlier = graph.before(step.id);
    const fields = step as unknown as Record<string, unknown>;
    for (const field of TEMPLATE_FIELDS) {
      if (typeof fields[field] === 'string') check(['steps', index, field], templateError(fields[field]));
    }
    if (step.when) check(['steps', index, 'when'], conditionError(step.when));
    // Templates among a step's values: a connector's `with`, a hand-off's `inputs`.
    const values: [string, Record<string, unknown>] | null =
      step.type === 'connector'
        ? ['with', step.with]
        : step.type === 'runbook'
          ? ['inputs', step.inputs]
          : null;
    for (const [key, value] of Object.entries(values?.[1] ?? {})) {
      if (typeof value === 'string') check(['steps', index, values![0], key], templateError(value));
    }
    if (step.type === 'llm' && step.schema) check(['steps', index, 'schema'], schemaError(step.schema));
    if (step.type === 'runbook')
      forEachProblems(step, (where, error) => check(['steps', index, ...where], error));
    if (step.type === 'agent' && step.tools.length === 0 && step.runbooks.length === 0) {
      check(['steps', index], 'an agent step needs tools: or runbooks: to hand off to (or use an llm step)');
    }
    const templates: [(string | number)[], unknown][] = [
      ...[...TEMPLATE_FIELDS, 'when'].map((field): [(string | number)[], unknown] => [
        [field],
        fields[field],
      ]),
      ...Object.entries(values?.[1] ?? {}).map(([key, value]): [(string | number)[], unknown] => [
        [values![0], key],
        value,
      ]),
    ];
    for (const [field, value] of templates) {
      if (typeof value !== 'string') continue;
      for (const [, referenced] of value.matchAll(/\bsteps\.([a-zA-Z][\w-]*)/g)) {
        if (!earlier.has(referenced!)) {
          const why =
            referenced === step.id
              ? `a step cannot read its own result ("steps.${referenced}")`
              : step.needs
                ? `"steps.${referenced}" has not ended when this step starts (add it to needs:)`
                : `"steps.${referenced}" is not a step before this one`;
          check(['steps', index, ...field], why);
        }
      }
    }
  });
  for (const [name, output] of Object.entries(runbook.outputs)) {
    check(['outputs', name, 'value'], templateError(output.value));
    if (output.schema) check(['outputs', name, 'schema'], schemaError(output.schema));
  }
  runbook.success.forEach((criterion, index) => {
    const expression = typeof criterion === 'string' ? criterion : criterion.check;
    check(['success', index], conditionError(expression));
  });
  checkTriggers(runbook, check);
  return problems.length > 0 ? { runbook: null, problems } : { runbook, problems: [] };
}

/** Why a declared JSON Schema cannot check values (not a schema, a pattern RE2 cannot run), or null. */
function schemaError(schema: unknown): string | null {
  try {
    compiledSchema(schema);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A `forEach` hand-off: one bare expression (a filter would turn the list into text), no `retry:`
 * (another attempt would hand every item off again, sending what was sent), and `item`/`index`
 * read only where there is a forEach to give them.
 */
function forEachProblems(
  step: Extract<Runbook['steps'][number], { type: 'runbook' }>,
  check: (where: (string | number)[], error: string | null) => void,
): void {
  if (step.forEach === undefined) {
    for (const [name, value] of Object.entries(step.inputs)) {
      if (typeof value === 'string' && /\{\{-?\s*(item|index)\b/.test(value)) {
        check(
          ['inputs', name],
          '"item" and "index" exist only in a step with forEach: (add forEach: or remove them)',
        );
      }
    }
    return;
  }
  if (singleExpression(step.forEach)?.includes('|') !== false) {
    check(
      ['forEach'],
      "forEach must be one expression that gives a list, with no filters: '{{ steps.overdue.output.customers }}'",
    );
  }
  if (step.retry) {
    check(
      ['retry'],
      'a step with forEach cannot retry: another attempt would hand every item off again (retry inside the child runbook)',
    );
  }
}

/**
 * The payload fields an event has, which an event trigger's filter may test: its connector's
 * payload schema (the connector is loaded for it, only by a runbook that filters that event).
 */
function eventFields(event: EventTrigger['event']): string[] {
  const payload = builtInEventPayload(event);
  return payload instanceof z.ZodObject ? Object.keys(payload.shape) : [];
}

/** Cron patterns, time zones, globs, event filters and the inputs each trigger gives its runs. */
function checkTriggers(
  runbook: Runbook,
  check: (where: (string | number)[], error: string | null) => void,
): void {
  runbook.triggers.forEach((trigger, index) => {
    if (trigger.type === 'manual') return;
    if (trigger.type === 'schedule') {
      check(['triggers', index, 'cron'], cronError(trigger.cron));
      if (trigger.timezone) check(['triggers', index, 'timezone'], timeZoneError(trigger.timezone));
    } else if (trigger.type === 'event') {
      const filtered = Object.keys(trigger.filter ?? {});
      const fields = filtered.length > 0 ? eventFields(trigger.event) : [];
      for (const field of filtered) {
        if (!fields.includes(field.split('.')[0]!)) {
          check(
            ['triggers', index, 'filter', field],
            `${trigger.event} has no field "${field}" (its fields: ${fields.join(', ')})`,
          );
        }
      }
    } else {
      trigger.paths.forEach((glob, at) => {
        const cleaned = glob.trim().replace(/\\/g, '/');
        if (cleaned.startsWith('/') || /^[a-zA-Z]:/.test(cleaned) || cleaned.split('/').includes('..')) {
          check(['triggers', index, 'paths', at], `"${glob}" must be a glob relative to the workspace`);
        }
      });
    }
    const given = trigger.inputs ?? {};
    for (const [name, value] of Object.entries(given)) {
      if (!(name in runbook.inputs)) {
        const known = Object.keys(runbook.inputs).join(', ') || 'none';
        check(
          ['triggers', index, 'inputs', name],
          `"${name}" is not an input of this runbook (its inputs: ${known})`,
        );
      } else if (typeof value === 'string') {
        check(['triggers', index, 'inputs', name], templateError(value));
      }
    }
    // A schedule with `eval:` runs the test file's cases, each with its own inputs.
    if (trigger.type === 'schedule' && trigger.eval) return;
    for (const [name, input] of Object.entries(runbook.inputs)) {
      const required = input.required ?? input.default === undefined;
      if (required && !(name in given)) {
        check(
          ['triggers', index],
          `the ${trigger.type} trigger gives no value for the required input "${name}" (add it under inputs:)`,
        );
      }
    }
  });
}
