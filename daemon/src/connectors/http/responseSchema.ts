/**
 * Checks an answer against a declared JSON Schema, so a provider that changed its shape fails the
 * step with the field that is wrong instead of handing a surprise to the next step. ajv: the
 * reference JSON Schema validator (draft-07 and 2019+), already in the tree through the MCP SDK,
 * maintained and fast; schemas are compiled once per text, their patterns matched in linear time.
 */
import { Ajv, type CodeOptions, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';

/**
 * ajv's engine for `pattern` and `patternProperties`: RE2 (re2js, its pure-JS port), which matches
 * in time linear in the answer. A schema can be written by a model or a workspace file, and with
 * JavaScript's backtracking RegExp a pattern like `^(a+)+$` against a long answer would stall the
 * daemon. re2js over the native `re2` bindings: nothing to build, same syntax and guarantee. RE2 has
 * no lookaround or backreferences: such a pattern is refused when the schema is compiled.
 */
const linearTime: NonNullable<CodeOptions['regExp']> = Object.assign(
  (pattern: string) => {
    try {
      // Its toString() is the pattern: ajv keys compiled patterns by it.
      return RE2JS.compile(pattern);
    } catch (error) {
      throw new Error(
        `pattern ${JSON.stringify(pattern)} is not supported (${(error as Error).message}); ` +
          'patterns are matched in linear time, without lookaround or backreferences',
        { cause: error },
      );
    }
  },
  { code: 'linearTimePattern' },
);

const ajv = new Ajv({ allErrors: false, strict: false, code: { regExp: linearTime } });
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 200;

/** Null when `value` matches; else one sentence naming the field and what is wrong with it. */
export function schemaMismatch(schema: Record<string, unknown>, value: unknown): string | null {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      return `the schema itself is not valid JSON Schema (${(error as Error).message})`;
    }
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(key, validate);
  }
  if (validate(value)) return null;
  const error = validate.errors?.[0];
  if (!error) return 'it does not match';
  const missing = error.keyword === 'required' ? `/${String(error.params.missingProperty)}` : '';
  const field = `${error.instancePath}${missing}` || '(the whole answer)';
  return `field "${field}" ${error.message ?? 'does not match'}`;
}
