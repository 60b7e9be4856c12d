/**
 * An MCP tool's input schema as Keel checks it (see daemon/src/connectors/mcp/mcpSchemas.ts): the
 * server's patterns run in linear time, a pattern RE2 cannot run refuses the call by name instead
 * of falling back to a backtracking engine, and the fields still show in the registry's zod shape.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { McpSchemaValidator } from '../../daemon/src/connectors/mcp/mcpSchemas';
import { toolInputSchema } from '../../daemon/src/connectors/mcp/mcpTools';

const tool = (inputSchema: Record<string, unknown>): Tool => ({
  name: 't',
  inputSchema: { type: 'object', ...inputSchema },
});

const problems = (schema: z.ZodType, value: unknown): string => {
  const parsed = schema.safeParse(value);
  return parsed.success ? '' : z.prettifyError(parsed.error);
};

it('checks patterns, keeps a field named "pattern", and shows the fields', () => {
  const input = toolInputSchema(
    tool({
      properties: {
        pattern: { type: 'string', pattern: '^[a-z]+$' },
        limit: { type: 'integer' },
      },
      required: ['pattern'],
    }),
    new McpSchemaValidator(),
  );
  expect(problems(input, { pattern: 'abc', limit: 3 })).toBe('');
  expect(problems(input, { pattern: 'ABC' })).toContain('must match pattern "^[a-z]+$"');
  expect(problems(input, { limit: 3 })).not.toBe('');
  const shown = z.toJSONSchema(input) as { properties?: Record<string, unknown> };
  expect(Object.keys(shown.properties ?? {})).toEqual(['pattern', 'limit']);
});

it('refuses every call to a tool whose pattern needs a backtracking engine, naming it', () => {
  const input = toolInputSchema(
    tool({ properties: { word: { type: 'string', pattern: '^(?!admin).*$' } } }),
    new McpSchemaValidator(),
  );
  const said = problems(input, { word: 'guest' });
  expect(said).toContain("the server's schema cannot be checked");
  expect(said).toContain('"^(?!admin).*$" is not supported');
  expect(said).toContain('without lookaround or backreferences');
});

it('checks patternProperties in full, though zod gets no shape for them', () => {
  const input = toolInputSchema(
    tool({ patternProperties: { '^x-': { type: 'number' } }, additionalProperties: false }),
    new McpSchemaValidator(),
  );
  expect(problems(input, { 'x-a': 1 })).toBe('');
  expect(problems(input, { 'x-a': 'one' })).toContain('must be number');
  expect(problems(input, { other: 1 })).toContain('must NOT have additional properties');
});

it('checks a 2020-12 schema (the MCP default dialect) with its patterns and formats', () => {
  const input = toolInputSchema(
    tool({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      properties: {
        code: { $ref: '#/$defs/code' },
        pair: { type: 'array', prefixItems: [{ type: 'string', pattern: '^[0-9]+$' }] },
        to: { type: 'string', format: 'email' },
      },
      $defs: { code: { type: 'string', pattern: '^[A-Z]{3}$' } },
    }),
    new McpSchemaValidator(),
  );
  expect(problems(input, { code: 'EUR', pair: ['12'], to: 'a@example.com' })).toBe('');
  expect(problems(input, { code: 'eur' })).toContain('must match pattern "^[A-Z]{3}$"');
  expect(problems(input, { pair: ['x'] })).toContain('must match pattern "^[0-9]+$"');
  expect(problems(input, { to: 'not an address' })).not.toBe('');
});

it('reads ECMA escapes RE2 spells otherwise, and compiles two schemas that share an $id', () => {
  const validator = new McpSchemaValidator();
  // `\u00C0-\u017F` (accented Latin) and `\cJ`-style escapes are valid JSON Schema patterns; RE2
  // alone refused them, which refused every call to the tool.
  const accented = toolInputSchema(
    tool({ properties: { name: { type: 'string', pattern: '^[\\u00C0-\\u017F]+$' } } }),
    validator,
  );
  expect(problems(accented, { name: 'éà' })).toBe('');
  expect(problems(accented, { name: 'ea' })).toContain('must match pattern');
  // Two tools (or a tool whose schema changed) naming the same $id: each is checked as given.
  const first = toolInputSchema(
    tool({ $id: 'https://tools.example/args.json', properties: { n: { type: 'integer' } }, required: ['n'] }),
    validator,
  );
  const second = toolInputSchema(
    tool({ $id: 'https://tools.example/args.json', properties: { s: { type: 'string' } }, required: ['s'] }),
    validator,
  );
  expect(problems(first, { n: 1 })).toBe('');
  expect(problems(second, { s: 'x' })).toBe('');
  expect(problems(second, { n: 1 })).not.toBe('');
});
