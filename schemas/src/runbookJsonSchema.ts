/**
 * The runbook formats as JSON Schema, generated from the zod schemas: written to
 * `schemas/dist/*.schema.json` for the extension's `yamlValidation`, and read by the daemon for
 * completion and hovers. Draft 7, the newest draft Red Hat's YAML extension supports in full.
 */
import { z } from 'zod';
import { Runbook, RunbookTestFile } from './runbook';

export type JsonSchema = z.core.JSONSchema.BaseSchema;

/** Describes what a user writes (`io: 'input'`): fields with defaults are optional. */
export function toInputJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', target: 'draft-7' });
}

/** The JSON Schema files the schemas build writes, by file name. */
export const RUNBOOK_JSON_SCHEMAS = {
  'runbook.schema.json': Runbook,
  'runbookTest.schema.json': RunbookTestFile,
} as const;
