/**
 * The daemon as a user runs it: the built `keel daemon --workspace DIR` in its own process, with a
 * private KEEL_RUNTIME_DIR, reached over its real socket with the token named in the lock file. Its
 * log goes to a file, and each line is also kept with the time it arrived, so phases the daemon
 * logs (the vector index build) can be timed from outside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SocketClient } from '../../daemon/src/rpc/socketClient';
import { daemonEnvironment } from '@keel/schemas';

const REPO_ROOT = join(__dirname, '..', '..');
export const CLI = join(REPO_ROOT, 'daemon', 'dist', 'cli.js');

export interface LogLine {
  /** performance.now() in the benchmark's process when the line arrived. */
  at: number;
  text: string;
}

export interface DaemonOptions {
  workspace: string;
  runtimeDir: string;
  logFile: string;
  /** Extra environment: KEEL_LOG_LEVEL, LANCE_CPU_THREADS. */
  env?: Record<string, string>;
  /** Node flags before the script: --cpu-prof (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** The built CLI to run instead of CLI (another build of Keel). */
  cli?: string;
}

export class DaemonProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly spawnedAt: number,
    private readonly options: DaemonOptions,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (text) => {
      this.lines.push({ at: performance.now(), text });
      log.write(text + '\n');
    });
    void this.exited.then(() => log.end());
  }

  static spawn(options: DaemonOptions): DaemonProcess {
    const spawnedAt = performance.now();
    const args = [
      ...(options.nodeArgs ?? []),
      options.cli ?? CLI,
      'daemon',
      '--workspace',
      options.workspace,
    ];
    const child = spawn(process.execPath, args, {
      // The environment the keel command and the editor give their daemons (allocator settings).
      env: { ...daemonEnvironment(process.env), KEEL_RUNTIME_DIR: options.runtimeDir, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return new DaemonProcess(child, spawnedAt, options);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the daemon did not start');
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Connects as soon as the daemon serves: the lock file names the socket and token once the
   * daemon holds the workspace; until the socket listens, connecting fails and is retried.
   */
  async connect(timeoutMs = 60_000, retryMs = 5): Promise<SocketClient> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`the daemon exited before serving; see ${this.options.logFile}`);
      try {
        const lock = JSON.parse(
          await readFile(join(this.options.workspace, '.keel', 'daemon.lock'), 'utf8'),
        ) as { pid: number; socketPath: string | null; tokenPath: string | null };
        if (lock.pid === this.pid && lock.socketPath && lock.tokenPath) {
          const token = (await readFile(lock.tokenPath, 'utf8')).trim();
          return await SocketClient.connectAndAuthenticate(lock.socketPath, token, 'keel-bench');
        }
      } catch {
        // Not serving yet: no lock, a half-written lock, no token, or the socket is not listening.
      }
      if (performance.now() > deadline) throw new Error(`the daemon did not serve within ${timeoutMs} ms`);
      await sleep(retryMs);
    }
  }

  /**
   * SIGTERM (as Ctrl+C ends it; `keel stop` asks the same shutdown over the socket), then SIGKILL
   * if it has not exited after `timeoutMs`. Says how long the shutdown took and whether it hung.
   */
  async stop(timeoutMs = 15_000): Promise<{ ms: number; killed: boolean }> {
    const started = performance.now();
    if (!this.running) return { ms: 0, killed: false };
    this.child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return { ms: performance.now() - started, killed };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
