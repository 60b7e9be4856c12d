/**
 * First step without a daemon: `keel run` of a runbook that never searches, in a workspace whose
 * memory holds the workload's notes and no daemon runs, timed from the command's spawn until its
 * first step started (the step's own start in the trace). The run's own work and the command's
 * exit are timed too. A run must not wait for the memory index it does not use (issue 14: <= 300 ms).
 * Beside each run, Node's own start (`node -e 0`, spawn to exit) is timed as this figure's floor: no
 * change to Keel shortens it, and the machine sets it (a CA bundle named by NODE_EXTRA_CA_CERTS,
 * for one, is read at every start of Node 20: some 40 ms here).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunTrace } from '@keel/schemas';
import { CLI } from '../daemonProcess';
import { percentile, round } from '../stats';

export interface FirstStepResult {
  runs: number;
  /** Spawn of `keel run` until the first step started, per run. */
  msToFirstStep: number[];
  medianMsToFirstStep: number;
  /** Spawn until the command exited. */
  medianMsToExit: number;
  /** Whether any run created the memory index (it must not). */
  openedMemory: boolean;
  /** Node alone (`node -e 0`), spawn to exit, timed after each run. */
  msNodeStart: number[];
  medianMsNodeStart: number;
  /** Whether NODE_EXTRA_CA_CERTS was set: Node 20 then reads that CA bundle at each start. */
  extraCaCerts: boolean;
}

const RUNBOOK = `apiVersion: keel/v1
name: first-step
role: Bench
description: One step that writes a file and never searches memory.
steps:
  - id: save
    type: connector
    use: fs.outbox@1
    with:
      path: first-step.md
      content: written
`;

/** `workspace` must be initialised (keel init) and hold no index yet. */
export async function measureFirstStep(
  workspace: string,
  runtimeDir: string,
  runs: number,
  /** Another build's `cli.js` (a copy of daemon/dist), to compare builds; daemon/dist's by default. */
  cli = CLI,
): Promise<FirstStepResult> {
  await mkdir(join(workspace, 'runbooks'), { recursive: true });
  await writeFile(join(workspace, 'runbooks', 'first-step.yaml'), RUNBOOK);
  const env = { ...process.env, KEEL_RUNTIME_DIR: runtimeDir };
  const toFirstStep: number[] = [];
  const toExit: number[] = [];
  const nodeStart: number[] = [];
  for (let i = 0; i < runs; i++) {
    const spawnedAt = Date.now();
    const ran = await keel(cli, ['run', 'first-step', '--json', '--yes'], workspace, env);
    toExit.push(Date.now() - spawnedAt);
    const id = (JSON.parse(ran) as { id: string }).id;
    const trace = JSON.parse(await keel(cli, ['show', id, '--json'], workspace, env)) as RunTrace;
    const started = trace.steps[0]?.startedAt;
    if (!started) throw new Error(`run ${id} has no started step: ${ran}`);
    toFirstStep.push(Date.parse(started) - spawnedAt);
    const nodeSpawnedAt = Date.now();
    await run(process.execPath, ['-e', '0'], workspace, env);
    nodeStart.push(Date.now() - nodeSpawnedAt);
  }
  const median = (samples: number[]): number =>
    percentile(
      [...samples].sort((a, b) => a - b),
      50,
    );
  return {
    runs,
    msToFirstStep: toFirstStep,
    medianMsToFirstStep: round(median(toFirstStep), 0),
    medianMsToExit: round(median(toExit), 0),
    openedMemory: existsSync(join(workspace, '.keel', 'lance')),
    msNodeStart: nodeStart,
    medianMsNodeStart: round(median(nodeStart), 0),
    extraCaCerts: Boolean(process.env.NODE_EXTRA_CA_CERTS),
  };
}

function keel(cli: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return run(process.execPath, [cli, ...args], cwd, env);
}

/** Runs the command to its end; its standard output, or an error with its standard error. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}
