/**
 * A model answer that tries to use hand-offs against the operator: a supervisor agent whose model
 * asks for a runbook it was not given, slips an input the child does not declare, or starts child
 * runs without end. Nothing starts outside the step's `runbooks:` and the child's declared inputs,
 * and every hand-off is a step of the parent's budget.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunGetRequest, RunsListRequest, RunStartRequest, type RunSummary } from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { commitWorkspace, runReaches, startTrustedDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
let client: InProcessClient;

const CHILD = (name: string): string => `apiVersion: keel/v1
name: ${name}
role: ${name}
description: Writes what it is told to the outbox.
inputs:
  note: { type: string }
steps:
  - id: save
    type: connector
    use: fs.outbox@1
    with: { path: "${name}-{{ inputs.note }}.md", content: "{{ inputs.note }}" }
outputs:
  saved: { value: "{{ steps.save.output.path }}" }
`;

const SUPERVISOR = `apiVersion: keel/v1
name: supervisor
role: Operations lead
description: May hand off to the writer only.
budget: { maxSteps: 5, maxUsd: 2, maxTokens: 300000 }
steps:
  - id: plan
    type: agent
    goal: File the note.
    runbooks: [writer]
    maxIterations: 3
outputs:
  answer: { value: "{{ steps.plan.output.answer }}" }
`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1\nmodels:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
  );
  await writeNote(dirs.workspace, 'runbooks/writer.yaml', CHILD('writer'));
  await writeNote(dirs.workspace, 'runbooks/admin.yaml', CHILD('admin'));
  await writeNote(dirs.workspace, 'runbooks/supervisor.yaml', SUPERVISOR);
  commitWorkspace(dirs.workspace);
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

/** The tool results the model was sent back, in order. */
function toolResults(): unknown[] {
  const last = server.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
  return last.messages.filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content) as unknown);
}

async function children(parent: string): Promise<RunSummary[]> {
  const { runs } = await client.request(RunsListRequest, { limit: 100 });
  return runs.filter((run) => run.parent?.runId === parent);
}

describe('a supervisor’s model answer', () => {
  it('cannot hand off to a runbook the step was not given, nor pass an input the child does not declare', async () => {
    server.enqueue(
      {
        toolCalls: [
          { name: 'handoff_admin', arguments: { note: 'rm -rf' } },
          { name: 'handoff_writer', arguments: { note: 'hello', path: '../../.git/config' } },
        ],
      },
      { content: 'gave up' },
    );
    const { id } = await client.request(RunStartRequest, { runbook: 'supervisor', inputs: {} });
    await runReaches(client, id, 'succeeded');
    expect(toolResults()).toEqual([
      { error: 'tool "handoff_admin" is not allowed in this step' },
      { error: expect.stringMatching(/cannot hand off to writer: writer has no input "path"/) },
    ]);
    expect(await children(id)).toEqual([]);
  });

  it('cannot start child runs without end: each hand-off is a step of the parent’s budget', async () => {
    const many = Array.from({ length: 20 }, (_, i) => ({
      name: 'handoff_writer',
      arguments: { note: `n${i}` },
    }));
    server.enqueue({ toolCalls: many }, { content: 'done' });
    const { id } = await client.request(RunStartRequest, { runbook: 'supervisor', inputs: {} });
    // maxSteps 5: the agent's first turn is one step, four hand-offs the rest; then the run stops.
    const ended = await runReaches(client, id, 'budget_exceeded', 30_000);
    expect(ended.error).toMatch(/budget\.maxSteps/);
    const started = await children(id);
    expect(started.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(server.requests).toHaveLength(1);
    const trace = await client.request(RunGetRequest, { id });
    expect(trace.steps[0]!.children).toHaveLength(4);
  });
});
