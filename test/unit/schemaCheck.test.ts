/**
 * The check of declared JSON Schemas (runbook step and output schemas, http@1 answers): where a
 * value is wrong, formats checked, patterns in RE2 syntax, and a schema that cannot check values
 * refused when compiled.
 */
import { expect, it } from 'vitest';
import { compiledSchema, schemaCheck } from '../../daemon/src/connectors/linearTimeAjv';

const order = {
  type: 'object',
  properties: {
    contact: { type: 'string', format: 'email' },
    lines: { type: 'array', items: { type: 'object', required: ['sku'] } },
    'a/b': { type: 'number' },
  },
  required: ['contact'],
};

it('names the path of the first wrong field, a missing one included', () => {
  const check = schemaCheck(order);
  expect(check({ contact: 'maya@example.com', lines: [{ sku: 'x' }] })).toBeNull();
  expect(check({})).toEqual({ path: ['contact'], message: "must have required property 'contact'" });
  expect(check({ contact: 'maya@example.com', lines: [{}] })).toMatchObject({ path: ['lines', '0', 'sku'] });
  expect(check({ contact: 'maya@example.com', 'a/b': 'x' })).toMatchObject({ path: ['a/b'] });
});

it('checks formats, as the schema says', () => {
  expect(schemaCheck(order)({ contact: 'not an address' })).toEqual({
    path: ['contact'],
    message: 'must match format "email"',
  });
});

it('matches patterns in linear time, and refuses one that needs backtracking when compiled', () => {
  const check = schemaCheck({ type: 'string', pattern: '^(a+)+$' });
  expect(check('a'.repeat(50_000) + '!')).toMatchObject({ message: 'must match pattern "^(a+)+$"' });
  expect(() => schemaCheck({ type: 'string', pattern: '^(?!x).*$' })).toThrow(
    /the schema itself is not valid JSON Schema.*not supported/,
  );
  expect(() => schemaCheck({ type: 'nonsense' })).toThrow(/the schema itself is not valid JSON Schema/);
});

it('compiles a schema once per text and origin', () => {
  expect(compiledSchema(order).validate).toBe(compiledSchema(structuredClone(order)).validate);
  expect(compiledSchema(order, 'foreign').validate).not.toBe(compiledSchema(order).validate);
  // A server's schema is checked as the MCP SDK does: formats are its own business.
  expect(compiledSchema(order, 'foreign').validate({ contact: 'not an address' })).toBe(true);
});
