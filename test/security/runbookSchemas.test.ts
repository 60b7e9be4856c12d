/**
 * A runbook's JSON Schemas (an llm step's `schema`, an output's `schema`) are checked in time linear
 * in the value. The runbook comes from a workspace file and the value from a model or a run's
 * inputs: a pattern that backtracks (`^(a+)+$`, which JavaScript's RegExp takes for ever to reject
 * on forty a's and a "!") never stalls `keel run`, and a pattern only a backtracking engine can run
 * (a lookahead) is a problem of the runbook file, named with its line, before anything is asked.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { commitWorkspace } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

/** Without linear-time matching, each of these never ends: the command is killed after this. */
const HANG_MS = 30_000;
const HOSTILE = 'a'.repeat(40) + '!';

let dirs: TempDirs;
let server: ModelServer;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-runbook-schemas-');
  server = await ModelServer.start();
  // The model answers with the hostile string, as JSON (what a schema step expects).
  server.respondWith(() => ({ content: JSON.stringify(HOSTILE) }));
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1, outputUsdPerMTok: 1 }
`,
  );
  await writeNote(
    dirs.workspace,
    'runbooks/step-schema.yaml',
    `apiVersion: keel/v1
name: step-schema
role: Clerk
description: A code from the model, checked by the step's schema.
steps:
  - id: code
    type: llm
    prompt: Give the code.
    schema: { type: string, pattern: '^(a+)+$' }
`,
  );
  await writeNote(
    dirs.workspace,
    'runbooks/output-schema.yaml',
    `apiVersion: keel/v1
name: output-schema
role: Clerk
description: A code from the run's inputs, checked by the output's schema.
inputs:
  code: { type: string }
steps:
  - { id: note, type: llm, prompt: "Say ok." }
outputs:
  code:
    value: "{{ inputs.code }}"
    schema: { type: string, pattern: '^(a+)+$' }
`,
  );
  await writeNote(
    dirs.workspace,
    'runbooks/lookahead.yaml',
    `apiVersion: keel/v1
name: lookahead
role: Clerk
description: A schema whose pattern needs a backtracking engine.
steps:
  - id: code
    type: llm
    prompt: Give the code.
    schema: { type: string, pattern: '^(?!x).*$' }
`,
  );
  commitWorkspace(dirs.workspace);
  await runKeel(['trust', '--yes'], { cwd: dirs.workspace, runtime: dirs.runtime });
});

afterEach(async () => {
  await server.close();
  await dirs.cleanup();
});

function keel(args: string[]) {
  return runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime, timeoutMs: HANG_MS });
}

it("a model's answer built to backtrack against a step's pattern fails the step at once", async () => {
  const run = await keel(['run', 'step-schema', '--json', '--yes']);
  expect(run.code, run.stderr).not.toBeNull();
  const ended = JSON.parse(run.stdout) as { status: string; error: string };
  expect(ended.status).toBe('failed');
  expect(ended.error).toMatch(
    /not valid JSON for the step's schema: the value: must match pattern "\^\(a\+\)\+\$"/,
  );
  // Asked, re-asked once with the reason, and no more: the check itself finished each time.
  expect(server.requests).toHaveLength(2);
});

it("an input built to backtrack against an output's pattern fails the run at once", async () => {
  const run = await keel(['run', 'output-schema', '--input', `code=${HOSTILE}`, '--json', '--yes']);
  expect(run.code, run.stderr).not.toBeNull();
  const ended = JSON.parse(run.stdout) as { status: string; error: string };
  expect(ended.status).toBe('failed');
  expect(ended.error).toMatch(/output "code" does not match its schema: must match pattern/);
});

it('a pattern that needs backtracking is a problem of the runbook file, and no model is asked', async () => {
  const run = await keel(['run', 'lookahead', '--json', '--yes']);
  expect(run.code).not.toBe(0);
  expect(run.stdout + run.stderr).toMatch(/runbooks\/lookahead\.yaml:9:.*\^\(\?!x\).*not supported/s);
  expect(server.requests).toHaveLength(0);
});
