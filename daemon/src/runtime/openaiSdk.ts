/**
 * The `openai` SDK, loaded at its first use: its 150-odd modules took 6-7 ms of every `keel`
 * start, which a command that calls no model (or a run of connector and retrieve steps) need not
 * pay (issue 14). A plain `require`, so the bundle holds the SDK and the code cache covers it (as
 * runtime/duckdb.ts does). Types come from `import type ... from 'openai'`.
 */
import type OpenAI from 'openai';

let sdk: typeof OpenAI | undefined;

export function openaiSdk(): typeof OpenAI {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: bundled, loaded late
  sdk ??= (require('openai') as { default: typeof OpenAI }).default;
  return sdk;
}
