/**
 * A workspace for `keel eval`: a `reply` runbook that drafts an answer and files it in the outbox,
 * its graded cases (deterministic checks and a rubric), and a model server whose `fast` model
 * answers badly and whose `strong` model answers well; its judge scores an answer that names the
 * day and time 0.9 and any other 0.2, with its reasoning.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelServer, ReceivedRequest, ScriptedReply } from './modelServer';
import { runKeel } from './processes';
import type { TempDirs } from './workspace';

export const GOOD_ANSWER = 'Dear Dana, the kickoff is on Tuesday at 10:00. Best, Maya';
export const BAD_ANSWER = 'We will get back to you.';

/** The `reply` runbook: one model step, then an outbox draft (captured by evals, never written). */
export const REPLY_RUNBOOK = `apiVersion: keel/v1
name: reply
role: Customer support
description: Answers a customer's question and files the draft in the outbox.
inputs:
  question: { type: string }
model: { tier: fast }
steps:
  - id: draft
    type: llm
    prompt: 'Answer the customer: {{ inputs.question }}'
    maxOutputTokens: 200
  - id: file
    type: connector
    use: fs.outbox@1
    with: { path: reply.md, content: '{{ steps.draft.output }}' }
outputs:
  reply: { value: '{{ steps.draft.output }}' }
`;

export const REPLY_EVALS = `runbook: reply
evals:
  tolerance: 0.1
  cases:
    - name: kickoff time
      inputs: { question: When is our kickoff? }
      checks:
        - { output: reply, contains: Dana }
        - { output: reply, regex: '\\b\\d{1,2}:\\d{2}\\b' }
        - { output: reply, rubric: Names the day and the time of the kickoff, threshold: 0.7 }
`;

export async function writeEvalWorkspace(workspace: string, evals = REPLY_EVALS): Promise<void> {
  await mkdir(join(workspace, 'runbooks', 'tests'), { recursive: true });
  await writeFile(join(workspace, 'runbooks', 'reply.yaml'), REPLY_RUNBOOK);
  await writeFile(join(workspace, 'runbooks', 'tests', 'reply.test.yaml'), evals);
}

/**
 * `keel init` in `dirs.workspace`, its tiers (fast: gpt-4o-mini, strong: gpt-4o, at OpenAI's
 * prices) pointed at the test server with no key, then the eval workspace written into it.
 */
export async function initEvalWorkspace(dirs: TempDirs, server: ModelServer): Promise<void> {
  const init = await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  if (init.code !== 0) throw new Error(`keel init failed: ${init.stderr}`);
  const config = join(dirs.workspace, 'keel.yaml');
  await writeFile(
    config,
    (await readFile(config, 'utf8'))
      .replace('https://api.openai.com/v1', server.baseUrl)
      .replace('apiKeyEnv: OPENAI_API_KEY', ''),
  );
  await writeEvalWorkspace(dirs.workspace);
}

/** How each model of the server answers; change it between evals to make a model drift. */
export interface ScriptedQuality {
  /** Model name → the answer it drafts. */
  answers: Record<string, string>;
  /** Model name → the model id its answers report (a provider's silent update); its own name by default. */
  reports: Record<string, string>;
}

export function scriptQuality(server: ModelServer): ScriptedQuality {
  const quality: ScriptedQuality = {
    answers: { 'gpt-4o-mini': BAD_ANSWER, 'gpt-4o': GOOD_ANSWER },
    reports: {},
  };
  server.respondWith((request: ReceivedRequest): ScriptedReply => {
    const body = request.body as {
      model: string;
      messages: unknown;
      response_format?: { json_schema?: { name?: string } };
    };
    const asked = body.model;
    const model = quality.reports[asked] ?? asked;
    if (body.response_format?.json_schema?.name === 'grade') {
      const text = JSON.stringify(body.messages);
      const good = /Tuesday at 10:00/.test(text);
      const content = JSON.stringify(
        good
          ? { score: 0.9, reasoning: 'It names Tuesday and 10:00.' }
          : { score: 0.2, reasoning: 'It names neither the day nor the time.' },
      );
      return { content, model };
    }
    return { content: quality.answers[asked] ?? BAD_ANSWER, model };
  });
  return quality;
}
