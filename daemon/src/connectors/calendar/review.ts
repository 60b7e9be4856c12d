/**
 * calendar@1's actions as the operator reviews them: the input as YAML (an event's summary,
 * times and attendees read like a form), and the edited YAML read back through the action's own
 * input schema, so a review edit can change what the schema allows and nothing else.
 */
import { parse, stringify } from 'yaml';
import type { z } from 'zod';
import type { ReviewDocument } from '../sdk';
import { CalendarError } from './account';

export function reviewYaml(title: string, input: unknown): ReviewDocument {
  return { title, language: 'yaml', text: stringify(input, { lineWidth: 0 }) };
}

/** The edited YAML as an input of `schema`; throws CalendarError naming the field to fix. */
export function fromReviewYaml<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new CalendarError(`The edited ${what} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CalendarError(
      `The edited ${what} is not valid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
