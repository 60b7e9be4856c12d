/**
 * Checks an answer against a declared JSON Schema, so a provider that changed its shape fails the
 * step with the field that is wrong instead of handing a surprise to the next step. ajv: the
 * reference JSON Schema validator (draft-07 and 2019+), already in the tree through the MCP SDK,
 * maintained and fast; schemas are compiled once per text, their patterns matched in linear time
 * (see linearTimeAjv).
 */
import { schemaCheck } from '../linearTimeAjv';

/**
 * The check of answers against `schema`: null when a value matches, else one sentence naming the
 * field and what is wrong with it. Throws, naming what is wrong, when the schema cannot be compiled
 * (a pattern RE2 does not run): called before the request is sent, so a POST never takes effect
 * only to fail on its own schema.
 */
export function responseCheck(schema: Record<string, unknown>): (value: unknown) => string | null {
  const check = schemaCheck(schema);
  return (value) => {
    const problem = check(value);
    if (!problem) return null;
    const field = problem.path.length ? `/${problem.path.join('/')}` : '(the whole answer)';
    return `field "${field}" ${problem.message}`;
  };
}
