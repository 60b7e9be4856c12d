/**
 * Checks an answer against a declared JSON Schema, so a provider that changed its shape fails the
 * step with the field that is wrong instead of handing a surprise to the next step. ajv: the
 * reference JSON Schema validator (draft-07 and 2019+), already in the tree through the MCP SDK,
 * maintained and fast; schemas are compiled once per text, their patterns matched in linear time
 * (see linearTimeAjv).
 */
import type { ValidateFunction } from 'ajv';
import { linearTimeAjv } from '../linearTimeAjv';

const ajv = linearTimeAjv();
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 200;

/**
 * The check of answers against `schema`, compiled once per schema text: null when a value matches,
 * else one sentence naming the field and what is wrong with it. Throws, naming what is wrong, when
 * the schema cannot be compiled (a pattern RE2 does not run): called before the request is sent,
 * so a POST never takes effect only to fail on its own schema.
 */
export function responseCheck(schema: Record<string, unknown>): (value: unknown) => string | null {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new Error(`the schema itself is not valid JSON Schema (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(key, validate);
  }
  const check = validate;
  return (value) => {
    if (check(value)) return null;
    const error = check.errors?.[0];
    if (!error) return 'it does not match';
    const missing = error.keyword === 'required' ? `/${String(error.params.missingProperty)}` : '';
    const field = `${error.instancePath}${missing}` || '(the whole answer)';
    return `field "${field}" ${error.message ?? 'does not match'}`;
  };
}
