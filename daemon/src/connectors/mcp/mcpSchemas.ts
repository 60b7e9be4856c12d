/**
 * How an MCP server's tool schemas are checked: with the linear-time ajv (see linearTimeAjv), both
 * Keel's check of the arguments (written by the model, so untrusted) and the SDK's check of a
 * tool's structured answer. A server's `pattern: "^(a+)+$"` cannot stall the daemon that way.
 */
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation/types.js';
import { compiledSchema } from '../linearTimeAjv';

/**
 * The SDK's validator interface (`Client({ jsonSchemaValidator })`, which checks structured
 * answers against a tool's `outputSchema`) over the linear-time ajv, each schema compiled once
 * (`compiledSchema`, as a server sends it: see SchemaOrigin). A schema that cannot be compiled (a
 * pattern RE2 cannot run) gives a validator that refuses every value with the reason, so one tool's
 * schema never breaks the listing of the others.
 */
export class McpSchemaValidator implements jsonSchemaValidator {
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    try {
      const { ajv, validate } = compiledSchema(schema, 'foreign');
      return (input) =>
        validate(input)
          ? { valid: true, data: input as T, errorMessage: undefined }
          : { valid: false, data: undefined, errorMessage: ajv.errorsText(validate.errors) };
    } catch (error) {
      const errorMessage = `the server's schema cannot be checked, so no value is accepted: ${(error as Error).message}`;
      return () => ({ valid: false, data: undefined, errorMessage });
    }
  }
}

/** Keywords whose value is one schema or a list of schemas. */
const SUBSCHEMA = [
  'items',
  'prefixItems',
  'additionalItems',
  'contains',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'allOf',
  'anyOf',
  'oneOf',
];
/** Keywords whose value maps names to schemas. */
const SUBSCHEMA_MAPS = ['properties', '$defs', 'definitions', 'dependentSchemas'];

/**
 * A copy of `schema` without its `pattern` keywords, for zod's `fromJSONSchema` (which would match
 * them with the backtracking RegExp); the linear-time check runs them instead. Null when the schema
 * has `patternProperties`: without them zod would judge keys wrongly, so it gets no zod shape.
 */
export function withoutPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) {
    const items = schema.map(withoutPatterns);
    return items.includes(null) ? null : items;
  }
  if (typeof schema !== 'object' || schema === null) return schema;
  const source = schema as Record<string, unknown>;
  if ('patternProperties' in source) return null;
  const copy: Record<string, unknown> = { ...source };
  if (typeof copy.pattern === 'string') delete copy.pattern;
  for (const keyword of SUBSCHEMA) {
    if (!(keyword in copy)) continue;
    const stripped = withoutPatterns(copy[keyword]);
    if (stripped === null) return null;
    copy[keyword] = stripped;
  }
  for (const keyword of SUBSCHEMA_MAPS) {
    const map = copy[keyword];
    if (typeof map !== 'object' || map === null || Array.isArray(map)) continue;
    const entries = Object.entries(map).map(([name, sub]) => [name, withoutPatterns(sub)] as const);
    if (entries.some(([, sub]) => sub === null)) return null;
    copy[keyword] = Object.fromEntries(entries);
  }
  return copy;
}
