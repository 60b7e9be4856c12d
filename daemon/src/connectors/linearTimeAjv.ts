/**
 * The one JSON Schema validator for schemas Keel does not write itself (a runbook's step and output
 * schemas, an HTTP action's declared answer, an MCP server's tool schemas): ajv, with `pattern` and
 * `patternProperties` matched in time linear in the value, so no schema can stall the daemon's
 * event loop, and each schema compiled once (`compiledSchema`).
 */
import type { Ajv, AnySchema, CodeOptions, Options, ValidateFunction } from 'ajv';
import type { Ajv2019 } from 'ajv/dist/2019';
import type { Ajv2020 } from 'ajv/dist/2020';
import type addFormats from 'ajv-formats';
import type AjvCore from 'ajv/dist/core';
import { compileLinear } from '../runtime/re2';

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
      // JSON Schema patterns are ECMA-262 ones, as compileLinear takes them. Its toString() is the
      // pattern: ajv keys compiled patterns by it.
      return compileLinear(pattern);
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

interface AjvLibrary {
  Ajv: typeof Ajv;
  Ajv2019: typeof Ajv2019;
  Ajv2020: typeof Ajv2020;
  addFormats: typeof addFormats;
}

let library: AjvLibrary | undefined;

/**
 * ajv, loaded when the first schema is compiled: loading it (three drafts' meta-schemas, the
 * formats) costs a `keel` command 15-40 ms at start-up, where most runs compile no schema (issue 14).
 */
function ajvLibrary(): AjvLibrary {
  /* eslint-disable @typescript-eslint/no-require-imports -- bundled, loaded late (issue 14) */
  library ??= {
    Ajv: (require('ajv') as { Ajv: typeof Ajv }).Ajv,
    Ajv2019: (require('ajv/dist/2019') as { Ajv2019: typeof Ajv2019 }).Ajv2019,
    Ajv2020: (require('ajv/dist/2020') as { Ajv2020: typeof Ajv2020 }).Ajv2020,
    addFormats: require('ajv-formats') as typeof addFormats,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return library;
}

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
  const { Ajv, Ajv2019, Ajv2020 } = ajvLibrary();
  if (dialect === '2020-12') return new Ajv2020(settings);
  if (dialect === '2019-09') return new Ajv2019(settings);
  return new Ajv(settings);
}

/**
 * How a schema is compiled. `declared`: one Keel's user wrote (a runbook's step or output schema,
 * an HTTP action's answer): checked against its meta-schema, formats checked. `foreign`: one a
 * server sent (an MCP tool's): as the MCP SDK does, not checked against its meta-schema and formats
 * not checked, so a server's slightly-off schema still checks values.
 */
export type SchemaOrigin = 'declared' | 'foreign';

/** Distinct schemas kept compiled; more than this (a server that lists thousands) start it over. */
const MAX_COMPILED = 500;
const engines = new Map<string, AjvCore>();
const compiled = new Map<string, { ajv: AjvCore; validate: ValidateFunction }>();

/**
 * `schema` compiled once per text (ajv compiles to code: slow once, fast after), with the engine
 * its dialect and origin call for. Throws, naming what is wrong, when it cannot be compiled (not a
 * schema, or a pattern RE2 does not run).
 */
export function compiledSchema(
  schema: unknown,
  origin: SchemaOrigin = 'declared',
): { ajv: AjvCore; validate: ValidateFunction } {
  const key = `${origin}\0${JSON.stringify(schema)}`;
  let entry = compiled.get(key);
  if (entry) return entry;
  const dialect = dialectOf(schema);
  const engineKey = `${origin}\0${dialect}`;
  let ajv = engines.get(engineKey);
  if (!ajv) {
    if (origin === 'foreign') {
      ajv = linearTimeAjv(dialect, { validateSchema: false, validateFormats: false });
    } else {
      // Formats (email, date, uri...) from ajv-formats, the ajv team's own package (the MCP SDK
      // uses it too); "fast" mode: simple, bounded patterns. An unknown format is ignored quietly
      // (`logger: false`), not printed to stderr on every compile.
      ajv = linearTimeAjv(dialect, { logger: false });
      ajvLibrary().addFormats(ajv, { mode: 'fast' });
    }
    engines.set(engineKey, ajv);
  }
  try {
    entry = { ajv, validate: ajv.compile(schema as AnySchema) };
  } catch (error) {
    throw new Error(`the schema itself is not valid JSON Schema (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, entry);
  return entry;
}

/** Why a value failed its check: where (the path of keys, empty for the whole value) and what. */
export interface SchemaProblem {
  path: string[];
  message: string;
}

/**
 * The check of values against a declared `schema`: null when a value matches, else the first
 * problem. Throws like `compiledSchema` when the schema cannot be compiled, so a caller compiles it
 * before acting (before a request is sent, before a model is asked).
 */
export function schemaCheck(schema: unknown): (value: unknown) => SchemaProblem | null {
  const { validate } = compiledSchema(schema);
  return (value) => {
    if (validate(value)) return null;
    const error = validate.errors?.[0];
    if (!error) return { path: [], message: 'does not match' };
    // instancePath is a JSON Pointer: "/items/0/name", with "~1" for "/" and "~0" for "~".
    const path = error.instancePath
      .split('/')
      .slice(1)
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (error.keyword === 'required') path.push(String(error.params.missingProperty));
    return { path, message: error.message ?? 'does not match' };
  };
}
