/**
 * The one JSON Schema validator for schemas Keel does not write itself (an HTTP action's declared
 * answer, an MCP server's tool schemas): ajv, with `pattern` and `patternProperties` matched in
 * time linear in the value, so no schema can stall the daemon's event loop.
 */
import { Ajv, type CodeOptions, type Options } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019';
import { Ajv2020 } from 'ajv/dist/2020';
import type AjvCore from 'ajv/dist/core';
import { RE2JS } from 're2js';

/**
 * ajv's engine for `pattern` and `patternProperties`: RE2 (re2js, its pure-JS port), which matches
 * in time linear in the value. A schema can come from a model, a workspace file or an MCP server,
 * and with JavaScript's backtracking RegExp a pattern like `^(a+)+$` against a long value would
 * stall the daemon. re2js over the native `re2` bindings: nothing to build, same syntax and
 * guarantee. RE2 has no lookaround or backreferences: such a pattern is refused when the schema is
 * compiled.
 */
const linearTime: NonNullable<CodeOptions['regExp']> = Object.assign(
  (pattern: string) => {
    try {
      // JSON Schema patterns are ECMA-262 ones: translateRegExp rewrites the escapes RE2 spells
      // otherwise (`\u00C0` becomes `\x{00C0}`, `\cJ` a byte). Its toString() is the pattern: ajv
      // keys compiled patterns by it.
      return RE2JS.compile(RE2JS.translateRegExp(pattern));
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

/** The JSON Schema drafts ajv knows; a schema names its own with `$schema`. */
export type SchemaDialect = 'draft-07' | '2019-09' | '2020-12';

/** The dialect a schema's `$schema` names; draft-07 (ajv's default, and the MCP SDK's) otherwise. */
export function dialectOf(schema: unknown): SchemaDialect {
  const named = (schema as { $schema?: unknown } | null)?.$schema;
  if (typeof named !== 'string') return 'draft-07';
  if (named.includes('2020-12')) return '2020-12';
  if (named.includes('2019-09')) return '2019-09';
  return 'draft-07';
}

/**
 * A new ajv for `dialect` whose patterns run in linear time. `strict: false`: schemas from outside
 * use keywords and formats ajv does not know, which are ignored rather than refused (as the MCP SDK
 * does). `options` adds to that.
 */
export function linearTimeAjv(dialect: SchemaDialect = 'draft-07', options: Options = {}): AjvCore {
  // addUsedSchema: false, so two schemas from outside with the same `$id` (two tools, or a server
  // that changed one) are each compiled as given instead of the second being refused.
  const settings: Options = {
    allErrors: false,
    strict: false,
    addUsedSchema: false,
    ...options,
    code: { regExp: linearTime },
  };
  if (dialect === '2020-12') return new Ajv2020(settings);
  if (dialect === '2019-09') return new Ajv2019(settings);
  return new Ajv(settings);
}
