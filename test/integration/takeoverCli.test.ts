/**
 * Takeover and checkpoints from a terminal, with no daemon running (each `keel` command runs
 * one for its duration), against the OpenAI-compatible test server: `keel resume RUN --from
 * STEP --output FILE` supplies a failed step's result by hand, `keel checkpoint RUN edit FILE`
 * answers a run another command left at its checkpoint, and mistakes are refused in words.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunSummary } from '@keel/schemas';
import { ModelServer } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;

const REPORT = `apiVersion: keel/v1
name: report
role: Operations lead
description: Figures from the model, a look by the operator, then a summary.
steps:
  - id: figures
    type: llm
    prompt: "About figures"
    schema: { type: object, properties: { total: { type: number } }, required: [total] }
  - id: look
    type: checkpoint
    message: "Total: {{ steps.figures.output.total }}"
    show: "{{ steps.figures.output }}"
  - { id: summary, type: llm, prompt: "Summarize {{ steps.look.output.total }}" }
outputs:
  total: { value: "{{ steps.look.output.total }}" }
  summary: { value: "{{ steps.summary.output }}" }
`;

const keel = (args: string[]) => runKeel(['--yes', ...args], { cwd: dirs.workspace, runtime: dirs.runtime });

beforeEach(async () => {
  dirs = await makeTempDirs();
  server = await ModelServer.start();
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m }
`,
  );
  await writeFile(join(dirs.workspace, 'runbooks/report.yaml'), REPORT);
});
afterEach(async () => {
  await server.close();
  await dirs.cleanup();
});

it('supplies a failed step’s output from a file, then answers the checkpoint with an edit', async () => {
  // Not JSON, twice (asked once more): the step fails.
  server.enqueue({ content: 'about forty' }, { content: 'forty-ish' });
  const failed = await keel(['run', 'report', '--json']);
  expect(failed.code).toBe(1);
  const run = JSON.parse(failed.stdout) as RunSummary;
  expect(run.status).toBe('failed');

  const noStep = await keel(['resume', run.id]);
  expect(noStep.code).toBe(1);
  expect(noStep.stderr).toContain(
    `say which step run ${run.id} goes on from: keel resume ${run.id} --from STEP`,
  );
  const missing = await keel(['resume', run.id, '--from', 'figures', '--output', 'nowhere.json']);
  expect(missing.stderr).toContain('cannot read nowhere.json: ENOENT');
  await writeFile(join(dirs.workspace, 'wrong.json'), '{"total": "many"}');
  const wrong = await keel(['resume', run.id, '--from', 'figures', '--output', 'wrong.json']);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/the output for step "figures" does not match its schema at total/);

  const calls = server.requests.length;
  await writeFile(join(dirs.workspace, 'figures.json'), '{"total": 40}');
  const taken = await keel(['resume', run.id, '--from', 'figures', '--output', 'figures.json']);
  expect(taken.code, taken.stderr).toBe(0);
  expect(taken.stdout).toContain(`Took ${run.id} over: step "figures" has the output you supplied`);
  expect(taken.stdout).toContain(`waiting_operator`);
  expect(taken.stdout).toContain(`keel checkpoint ${run.id} continue`);
  expect(server.requests.length).toBe(calls);

  const shown = await keel(['show', run.id]);
  expect(shown.stdout).toContain('● figures (llm) succeeded (output supplied by the operator)');
  expect(shown.stdout).toMatch(/taken over .* from step "figures", its output supplied by hand/);
  const listed = await keel(['runs']);
  expect(listed.stdout).toMatch(new RegExp(`${run.id}\\s+report\\s+waiting_operator`));

  server.enqueue({ content: 'Forty-two in all.' });
  await writeFile(join(dirs.workspace, 'look.yaml'), 'total: 42\n');
  const answered = await keel(['checkpoint', run.id, 'edit', 'look.yaml']);
  expect(answered.code, answered.stderr).toBe(0);
  expect(answered.stdout).toContain(`Checkpoint "look" of ${run.id}: continued with your output.`);
  expect(answered.stdout).toContain('succeeded');
  expect(answered.stdout).toContain('total: 42');
  expect(answered.stdout).toContain('summary: Forty-two in all.');
  const last = server.requests.at(-1)!.body as { messages: { content: string }[] };
  expect(last.messages.at(-1)!.content).toBe('Summarize 42');

  const again = await keel(['checkpoint', run.id, 'continue']);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain(`run "${run.id}" is succeeded, not waiting at a checkpoint`);
  expect(JSON.parse(await readFile(join(dirs.workspace, 'figures.json'), 'utf8'))).toEqual({ total: 40 });
});
