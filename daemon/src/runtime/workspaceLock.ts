/**
 * One daemon per workspace. `.keel/daemon.lock` holds the running daemon's pid and socket; a second
 * daemon finds it and refuses, naming both. A lock left by a crashed daemon (its pid is gone) is
 * taken over, under a short-lived `.takeover` guard so two starters never both take it.
 */
import { connect } from 'node:net';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { unlinkSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { stateDir } from './paths';

export const LockInfo = z.object({
  pid: z.number().int().positive(),
  mode: z.enum(['daemon', 'in-process']),
  socketPath: z.string().nullable(),
  tokenPath: z.string().nullable(),
  startedAt: z.string(),
  version: z.string(),
});
export type LockInfo = z.infer<typeof LockInfo>;

export class DaemonAlreadyRunningError extends Error {
  constructor(
    readonly workspace: string,
    readonly holder: LockInfo,
  ) {
    super(
      holder.mode === 'daemon'
        ? `A Keel daemon is already running for ${workspace} (pid ${holder.pid}, socket ${holder.socketPath}). ` +
            `Use it (keel status), or stop it first (keel stop).`
        : `A keel command (pid ${holder.pid}) is working on ${workspace} right now. ` +
            `Wait for it to finish, then try again.`,
    );
    this.name = 'DaemonAlreadyRunningError';
  }
}

const RETRY_MS = 25;
const MAX_ATTEMPTS = 200;
/** A lock file younger than this may still be being written, or its daemon still binding its socket. */
const FRESH_MS = 15_000;
/** A takeover guard older than this was left by a crash mid-takeover. */
const STALE_GUARD_MS = 5_000;

export function lockPathFor(workspace: string): string {
  return join(stateDir(workspace), 'daemon.lock');
}

export class WorkspaceLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly info: LockInfo,
  ) {}

  /** Takes the workspace's lock or throws `DaemonAlreadyRunningError` naming its holder. */
  static async acquire(workspace: string, info: LockInfo): Promise<WorkspaceLock> {
    const path = lockPathFor(workspace);
    await mkdir(stateDir(workspace), { recursive: true });
    const content = JSON.stringify(info, null, 2) + '\n';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (await createExclusive(path, content)) return new WorkspaceLock(path, info);
      const holder = await readHolder(path);
      if (holder.kind === 'live') throw new DaemonAlreadyRunningError(workspace, holder.info);
      if (holder.kind === 'stale') await takeOver(path, holder.raw);
      await delay(RETRY_MS);
    }
    throw new Error(`Could not take the workspace lock ${path}; remove it if no keel process is running.`);
  }

  /** The live holder of a workspace's lock, or null when no daemon or command holds it. */
  static async holder(workspace: string): Promise<LockInfo | null> {
    const holder = await readHolder(lockPathFor(workspace));
    return holder.kind === 'live' ? holder.info : null;
  }

  /** Writes the lock again if someone deleted it (with `.keel/`) while this daemon runs. */
  async restoreIfMissing(): Promise<void> {
    if (this.released) return;
    const present = await stat(this.path).then(
      () => true,
      () => false,
    );
    if (present) return;
    await mkdir(dirname(this.path), { recursive: true });
    await createExclusive(this.path, JSON.stringify(this.info, null, 2) + '\n');
  }

  /** Removes the lock if it is still ours. Safe to call more than once. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (await this.isStillOurs()) await rm(this.path, { force: true });
  }

  /** For `process.on('exit')`, where nothing asynchronous runs. */
  releaseSync(): void {
    if (this.released) return;
    this.released = true;
    try {
      const current = LockInfo.parse(JSON.parse(readFileSync(this.path, 'utf8')));
      if (current.pid === this.info.pid) unlinkSync(this.path);
    } catch {
      // Already gone or replaced: nothing of ours to remove.
    }
  }

  private async isStillOurs(): Promise<boolean> {
    try {
      const current = LockInfo.parse(JSON.parse(await readFile(this.path, 'utf8')));
      return current.pid === this.info.pid && current.startedAt === this.info.startedAt;
    } catch {
      return false;
    }
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

type Holder =
  { kind: 'none' } | { kind: 'live'; info: LockInfo } | { kind: 'stale'; raw: string } | { kind: 'busy' };

async function readHolder(path: string): Promise<Holder> {
  let raw: string;
  let ageMs: number;
  try {
    [raw, ageMs] = await Promise.all([
      readFile(path, 'utf8'),
      stat(path).then((s) => Date.now() - s.mtimeMs),
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  const parsed = safeParseLock(raw);
  if (!parsed) return ageMs < 1_000 ? { kind: 'busy' } : { kind: 'stale', raw };
  if (parsed.pid === process.pid || !isProcessAlive(parsed.pid)) return { kind: 'stale', raw };
  // A live pid may have been reused by an unrelated process after a crash: a daemon that has been
  // up for a while must also answer on its socket.
  if (parsed.mode === 'daemon' && parsed.socketPath && ageMs > FRESH_MS) {
    if (!(await socketAnswers(parsed.socketPath))) return { kind: 'stale', raw };
  }
  return { kind: 'live', info: parsed };
}

async function takeOver(path: string, staleRaw: string): Promise<void> {
  const guard = `${path}.takeover`;
  let handle;
  try {
    handle = await open(guard, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_GUARD_MS) await rm(guard, { force: true });
    return;
  }
  try {
    const current = await readFile(path, 'utf8').catch(() => null);
    if (current === staleRaw) await rm(path, { force: true });
  } finally {
    await handle.close();
    await rm(guard, { force: true });
  }
}

function safeParseLock(raw: string): LockInfo | null {
  try {
    const result = LockInfo.safeParse(JSON.parse(raw));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
