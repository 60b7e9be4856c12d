// The schemas build: writes the runbook formats' JSON Schemas to dist/ (runbook.schema.json,
// runbookTest.schema.json), generated from the zod schemas. Run with tsx, which loads the TypeScript.
import { mkdirSync, writeFileSync } from 'node:fs';
import { RUNBOOK_JSON_SCHEMAS, toInputJsonSchema } from './src/runbookJsonSchema.ts';

mkdirSync('dist', { recursive: true });
for (const [file, schema] of Object.entries(RUNBOOK_JSON_SCHEMAS)) {
  writeFileSync(`dist/${file}`, `${JSON.stringify(toInputJsonSchema(schema), null, 2)}\n`);
}
