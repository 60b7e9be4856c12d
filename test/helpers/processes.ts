/**
 * Running Keel's built binaries as real processes: the `keel` CLI (daemon/dist/cli.js) and the
 * daemon it starts. Waits are on output and state, never on fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { RunSummary } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import type { SocketClient } from '../../daemon/src/rpc/socketClient';

export const REPO_ROOT = join(__dirname, '..', '..');
export const CLI = join(REPO_ROOT, 'daemon', 'dist', 'cli.js');
export const KEELD = join(REPO_ROOT, 'daemon', 'dist', 'keeld.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function keelEnv(runtime: string): NodeJS.ProcessEnv {
  return { ...process.env, KEEL_RUNTIME_DIR: runtime, KEEL_LOG_LEVEL: 'info' };
}

/** Runs `keel ARGS` to completion. */
export function runKeel(
  args: string[],
  options: {
    cwd?: string;
    runtime: string;
    env?: NodeJS.ProcessEnv;
    /** Killed (SIGKILL) after this long: a command that hangs ends with code null. */
    timeoutMs?: number;
  },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...keelEnv(options.runtime), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningDaemon {
  process: ChildProcess;
  pid: number;
  /** Everything the daemon wrote to stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
}

/** Starts `keel daemon --workspace DIR` and resolves once it says it is serving. */
export async function startDaemon(workspace: string, runtime: string): Promise<RunningDaemon> {
  const child = spawn(process.execPath, [CLI, 'daemon', '--workspace', workspace], {
    env: keelEnv(runtime),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Keel daemon serving')) resolve();
    });
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before serving:\n${stderr}`)));
  });
  return { process: child, pid: child.pid!, output: () => stderr, exited };
}

/** Ends a daemon from `startDaemon` with SIGTERM, as the operator's Ctrl-C would, and waits for its exit. */
export async function stopDaemon(daemon: RunningDaemon | null): Promise<void> {
  if (!daemon) return;
  daemon.process.kill('SIGTERM');
  await daemon.exited;
}

/**
 * `keel init` in the workspace, its daemon started, and a client of it found as the CLI finds it
 * (through the runtime directory). Close the client and stopDaemon() the daemon afterwards.
 */
export async function serveNewWorkspace(dirs: {
  workspace: string;
  runtime: string;
}): Promise<{ daemon: RunningDaemon; client: SocketClient }> {
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  const daemon = await startDaemon(dirs.workspace, dirs.runtime);
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  return { daemon, client: await attachToDaemon(dirs.workspace) };
}

/** Every run of the workspace as `keel runs --json` lists it; fails with the CLI's stderr. */
export async function listRuns(dirs: { workspace: string; runtime: string }): Promise<RunSummary[]> {
  const listed = await runKeel(['runs', '--json'], { cwd: dirs.workspace, runtime: dirs.runtime });
  if (listed.code !== 0) throw new Error(`keel runs failed: ${listed.stderr}`);
  return JSON.parse(listed.stdout) as RunSummary[];
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
