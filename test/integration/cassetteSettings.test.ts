/**
 * Runbook tests and replays notice model settings, not only prompts: a cassette recorded live with
 * `keel run --record` keeps each call's model and sampling settings, and `keel test` fails naming
 * the step and the setting when the runbook's temperature or tier (or keel.yaml's model) changed;
 * `keel replay` reports the change instead of "Identical". A cassette recorded before Keel kept
 * settings still passes, saying once what it cannot check.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VERSION } from 'openai/version';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Cassette, RunbookTestResult, RunSummary } from '@keel/schemas';
import { ModelServer, pricedModels } from '../helpers/modelServer';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const RUNBOOK = `apiVersion: keel/v1
name: line
role: Writer
description: One line on a topic.
inputs:
  topic: { type: string, description: What the line is about }
model:
  tier: fast
steps:
  - id: draft
    type: llm
    prompt: 'One line on {{ inputs.topic }}.'
    maxOutputTokens: 200
    temperature: 0.2
outputs:
  line: { value: '{{ steps.draft.output }}' }
`;

const TEST = `runbook: line
cases:
  - name: a line on retainers
    inputs: { topic: retainers }
    cassette: cassettes/line.json
    expect:
      outcome: succeeded
      outputs:
        line: { contains: Retainers }
`;

const CASSETTE = 'runbooks/tests/cassettes/line.json';
const AGAIN = 'record it again with "keel run RUNBOOK --record FILE"';

let dirs: TempDirs;
let server: ModelServer;

beforeEach(async () => {
  dirs = await makeTempDirs();
  // The endpoint reports a dated model id, as OpenAI does: the cassette keeps what it reported.
  server = await ModelServer.start({ model: 'gpt-4o-mini-2024-07-18' });
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml('gpt-4o-mini'));
  await writeFile(join(dirs.workspace, 'runbooks/line.yaml'), RUNBOOK);
  await mkdir(join(dirs.workspace, 'runbooks/tests'), { recursive: true });
  await writeFile(join(dirs.workspace, 'runbooks/tests/line.test.yaml'), TEST);
  expect((await keel(['trust', '--yes'])).code).toBe(0);
});
afterEach(async () => {
  await server.close();
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

function keelYaml(fastModel: string): string {
  return `version: 1\nmemory:\n  embeddings: { provider: local }\n${pricedModels(server, { strong: true }).replace('model: gpt-4o-mini', `model: ${fastModel}`)}`;
}

async function editRunbook(from: string, to: string): Promise<void> {
  const path = join(dirs.workspace, 'runbooks/line.yaml');
  const text = await readFile(path, 'utf8');
  expect(text).toContain(from);
  await writeFile(path, text.replace(from, to));
}

/** Records the runbook live: one call, answered by the test server. */
async function record(): Promise<RunSummary> {
  server.enqueue({ content: 'Retainers let customers ask freely.' });
  const ran = await keel(['run', 'line', '--input', 'topic=retainers', '--record', CASSETTE, '--json']);
  expect(ran.code, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout) as RunSummary;
}

it('records the settings live and fails a test whose temperature, tier or model changed', async () => {
  const run = await record();
  const cassette = JSON.parse(await readFile(join(dirs.workspace, CASSETTE), 'utf8')) as Cassette;
  expect(cassette).toMatchObject({ source: 'live', reportedModels: ['gpt-4o-mini-2024-07-18'] });
  expect(cassette.entries[0]!.settings).toMatchObject({
    tier: 'fast',
    model: 'gpt-4o-mini',
    temperature: 0.2,
    maxOutputTokens: 200,
    responseFormat: 'text',
  });

  const unchanged = await keel(['test']);
  expect(unchanged.code, unchanged.stdout + unchanged.stderr).toBe(0);
  expect(unchanged.stdout).toMatch(/PASS {2}line › a line on retainers {2}\(\d+ ms\)\n/);
  expect(unchanged.stdout).not.toContain('scripted');

  await editRunbook('temperature: 0.2', 'temperature: 0.9');
  const warmer = await keel(['test', '--json']);
  expect(warmer.code).toBe(1);
  const [result] = JSON.parse(warmer.stdout) as RunbookTestResult[];
  expect(result!.failures[0]).toContain(
    `step "draft" (call 1): temperature changed from 0.2 to 0.9 since ${CASSETTE} was recorded; ${AGAIN}`,
  );
  // The replay of the runbook as it is now reports the change, not "Identical".
  const replayed = await keel(['replay', run.id, '--current']);
  expect(replayed.code).toBe(1);
  expect(replayed.stdout).not.toContain('Identical');
  expect(replayed.stdout).toContain(
    'First divergence at step "draft" (request): step "draft" (call 1): temperature changed from 0.2 to 0.9 since the run was recorded',
  );

  await editRunbook('temperature: 0.9', 'temperature: 0.2');
  await editRunbook('tier: fast', 'tier: strong');
  const stronger = await keel(['test']);
  expect(stronger.code).toBe(1);
  expect(stronger.stdout).toContain(
    `step "draft" (call 1): model tier changed from fast to strong, model changed from gpt-4o-mini to gpt-4o since ${CASSETTE} was recorded`,
  );

  await editRunbook('tier: strong', 'tier: fast');
  expect((await keel(['test'])).code).toBe(0);
  expect((await keel(['replay', run.id])).stdout).toContain('Identical to the recorded run.');

  // The tier now names another model in keel.yaml: the answers were another model's.
  await writeFile(join(dirs.workspace, 'keel.yaml'), keelYaml('gpt-4.1-mini'));
  const otherModel = await keel(['test']);
  expect(otherModel.code).toBe(1);
  expect(otherModel.stdout).toContain('model changed from gpt-4o-mini to gpt-4.1-mini since');
  const again = await keel(['replay', run.id]);
  expect(again.code).toBe(1);
  expect(again.stdout).toContain('step "draft" (call 1): model changed from gpt-4o-mini to gpt-4.1-mini');
  expect(server.requests).toHaveLength(1);
  // The built command names its client as the SDK does, though its bundle shortens class names.
  expect(server.requests[0]!.headers['user-agent']).toBe(`OpenAI/JS ${VERSION}`);
}, 120_000);

it('passes a cassette recorded before Keel kept settings, saying once that they are not checked', async () => {
  await record();
  const path = join(dirs.workspace, CASSETTE);
  const cassette = JSON.parse(await readFile(path, 'utf8')) as Cassette;
  const { source: _source, reportedModels: _models, ...old } = cassette;
  old.entries = cassette.entries.map(({ settings: _settings, promptHash: _prompt, ...entry }) => entry);
  await writeFile(path, JSON.stringify(old, null, 2));
  // A second case on the same cassette: the note is said once.
  await writeFile(
    join(dirs.workspace, 'runbooks/tests/line.test.yaml'),
    TEST + TEST.split('\n').slice(2).join('\n').replace('a line on retainers', 'the same line again'),
  );
  await editRunbook('temperature: 0.2', 'temperature: 0.9');

  const tested = await keel(['test']);
  expect(tested.code, tested.stdout).toBe(0);
  expect(tested.stdout.match(/Note: /g)).toHaveLength(1);
  expect(tested.stdout).toContain(
    `Note: ${CASSETTE} was recorded before Keel kept each call's model and settings: a changed model, temperature or max tokens is not noticed until you ${AGAIN}`,
  );
  // A changed prompt is still noticed, with the message it always had.
  await editRunbook("'One line on", "'Two lines on");
  const prompt = await keel(['test']);
  expect(prompt.code, prompt.stdout).toBe(1);
  expect(prompt.stdout).toContain(
    `the prompt of step "draft" (call 1) changed since ${CASSETTE} was recorded; ${AGAIN}`,
  );
}, 120_000);
