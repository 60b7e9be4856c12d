/**
 * billing@1's actions as the operator reviews them: a YAML form with the amounts written out
 * (`amount: 4200 # 42.00 EUR`) so nobody approves cents as euros, and the edited YAML read back
 * through the action's own input schema, so a review edit can change what the schema allows and
 * nothing else.
 */
import { parse, stringify } from 'yaml';
import type { z } from 'zod';
import type { ReviewDocument } from '../sdk';
import { BillingError } from './account';

/** The input as YAML, under a header of comment lines that say what approving does. */
export function reviewYaml(title: string, input: unknown, notes: string[] = []): ReviewDocument {
  const header = notes.map((note) => `# ${note}\n`).join('');
  return { title, language: 'yaml', text: header + stringify(input, { lineWidth: 0 }) };
}

/** The edited YAML as an input of `schema`; throws BillingError naming the field to fix. */
export function fromReviewYaml<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new BillingError(`The edited ${what} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BillingError(
      `The edited ${what} is not valid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
