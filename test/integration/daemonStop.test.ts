/**
 * A daemon that stops while a run waits on the model: whatever asks for the conductor while the
 * stop goes on (a search reading run journals, a client's request) is told the daemon is stopping.
 * No second conductor opens behind the stop, so the interrupted run is not resumed there and the
 * model is not asked again until the next daemon resumes it. A real daemon, git and model server.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunStartRequest } from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { commitWorkspace, runReaches, startTrustedDaemon } from '../helpers/inProcessDaemon';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;

const SLOW = `apiVersion: keel/v1
name: slow
role: Analyst
description: One model call that takes a minute.
steps:
  - { id: think, type: llm, prompt: "Think it over." }
outputs:
  thought: { value: "{{ steps.think.output }}" }
`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  server = await ModelServer.start();
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
models:
  endpoint: { baseUrl: ${server.baseUrl} }
  tiers:
    fast: { model: m, inputUsdPerMTok: 1, outputUsdPerMTok: 1 }
`,
  );
  await writeNote(dirs.workspace, 'runbooks/slow.yaml', SLOW);
  commitWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  await dirs.cleanup();
});

it('opens no second conductor for a caller that comes while it stops, so nothing is asked twice', async () => {
  server.respondWith(() => ({ content: 'done thinking', delayMs: 60_000 }));
  let client;
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
  const running = await daemon.conductor.get();
  const { id } = await client.request(RunStartRequest, { runbook: 'slow', inputs: {} });
  await waitFor('the model to be asked', () => server.requests.length === 1);

  // Callers keep coming while the daemon stops, as the memory plane and clients do.
  const stopped = daemon.stop('restart');
  const answers: Promise<unknown>[] = [];
  let done = false;
  void stopped.finally(() => (done = true));
  while (!done) {
    answers.push(daemon.conductor.get().catch((error: Error) => error));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await stopped;
  const got = await Promise.all(answers);
  // Each caller got the conductor that was stopping, or was told the daemon is stopping: never a new one.
  for (const answer of got) {
    if (answer instanceof Error)
      expect(answer.message).toBe('the daemon is stopping; try again once it is back');
    else expect(answer).toBe(running);
  }
  expect(got.some((answer) => answer instanceof Error)).toBe(true);
  expect(server.requests).toHaveLength(1);

  // The next daemon resumes the run and asks once more, and only once.
  server.respondWith(() => ({ content: 'done thinking' }));
  ({ daemon, client } = await startTrustedDaemon(dirs.workspace));
  const summary = await runReaches(client, id, 'succeeded');
  expect(summary.outputs).toEqual({ thought: 'done thinking' });
  expect(server.requests).toHaveLength(2);
});
