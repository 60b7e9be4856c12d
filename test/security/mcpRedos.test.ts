/**
 * An MCP server's tool schemas cannot stall the daemon: a server (the fixture,
 * test/helpers/mcpFixtureServer.ts) declares `pattern: "^(a+)+$"` on a tool's argument and on
 * another tool's answer. An argument a model wrote (`"aaaa…a!"`) and an answer the server sent
 * are checked in linear time: the call is refused with the pattern named, and the daemon keeps
 * answering, its event loop never blocked anywhere near a second.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RunGetRequest, RunStartRequest, StatusRequest, type RunSummary } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { REPO_ROOT, waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const FIXTURE_SERVER = join(REPO_ROOT, 'test/helpers/mcpFixtureServer.ts');
/** tsx by its file URL: the server starts in the temporary workspace, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
/**
 * With JavaScript's RegExp, ^(a+)+$ takes seconds on this (it doubles with each "a"), even once V8
 * compiled the pattern to machine code after its first use (25 "a"s would then take 0.3 s).
 */
const EVIL = `${'a'.repeat(28)}!`;

let dirs: TempDirs;
let daemon: Daemon | null = null;
let client: InProcessClient;

beforeEach(async () => {
  dirs = await makeTempDirs('keel-mcp-redos-');
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  await initWorkspace(dirs.workspace);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
connectors:
  fixture:
    use: mcp
    command: [${[process.execPath, '--import', TSX, FIXTURE_SERVER].map((w) => JSON.stringify(w)).join(', ')}]
    tools: { spell: read, evil-answer: read }
`,
  );
  await writeRunbook('plain', 'spell', '{ word: aaa }');
  await writeRunbook('evil-answer', 'evil-answer', '{}');
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  await dirs.cleanup();
});

/** A runbook calling the fixture's `action` with `args` (YAML). */
async function writeRunbook(name: string, action: string, args: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1
name: ${name}
role: Tester
description: Calls an MCP tool whose schema has a backtracking pattern.
steps:
  - id: call
    type: connector
    use: fixture
    action: ${action}
    with: ${args}
`,
  );
}

/** Runs `runbook` to its end; the daemon answers `status` all along (the daemon runs in this process). */
async function finished(runbook: string): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook, inputs: {} });
  return waitFor(
    `run ${started.id}`,
    async () => {
      await client.request(StatusRequest);
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' || run.status === 'failed' ? run : null;
    },
    30_000,
  );
}

/**
 * The run of `runbook`, and the longest the event loop was blocked from `before` (writing the
 * runbook: the daemon checks its arguments as soon as it sees it) to the run's end, in ms.
 */
async function measured(
  runbook: string,
  before: () => Promise<void> = () => Promise.resolve(),
): Promise<{ run: RunSummary; slowest: number }> {
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  await before();
  const run = await finished(runbook);
  stalls.disable();
  return { run, slowest: stalls.max / 1e6 };
}

it("a model's argument against a server's backtracking pattern is refused without stalling the daemon", async () => {
  // Started, listed and called once first: what a first call loads is not counted as a stall.
  const plain = await finished('plain');
  expect(plain.status, plain.error ?? '').toBe('succeeded');

  // `with` stands for what a model wrote: a run's arguments reach the tool's schema the same way.
  const { run, slowest } = await measured('evil-argument', () =>
    writeRunbook('evil-argument', 'spell', `{ word: '${EVIL}' }`),
  );
  expect(slowest).toBeLessThan(1_000);
  expect(run.status).toBe('failed');
  expect(run.error).toContain('the arguments do not fit the action');
  expect(run.error).toContain('must match pattern "^(a+)+$"');
});

it("a server's answer against its own backtracking output schema is refused without stalling the daemon", async () => {
  const plain = await finished('plain');
  expect(plain.status, plain.error ?? '').toBe('succeeded');

  const { run, slowest } = await measured('evil-answer');
  expect(slowest).toBeLessThan(1_000);
  expect(run.status).toBe('failed');
  expect(run.error).toContain("does not match the tool's output schema");
  expect(run.error).toContain('must match pattern "^(a+)+$"');
});
