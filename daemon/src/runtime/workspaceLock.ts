/**
 * One daemon per workspace. `.keel/daemon.lock` holds the running daemon's pid, and whether it
 * serves its socket yet; a second daemon finds it and refuses, naming both. A lock left by a
 * crashed daemon (its pid is gone, or it serves but its socket does not answer) is taken over,
 * under a short-lived `.takeover` guard so two starters never both take it. The lock is sealed
 * (runtime/stateKey): one Keel did not write counts as stale, and nobody ever takes a socket or
 * token path from it; those come from the per-user runtime directory (runtime/paths).
 */
import { connect } from 'node:net';
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { unlinkSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AlreadyRunning } from '../errors';
import { socketPathFor, stateDir } from './paths';
import { readStateFile, StateSeal } from './stateKey';

export const LockInfo = z.object({
  pid: z.number().int().positive(),
  mode: z.enum(['daemon', 'in-process']),
  socketPath: z.string().nullable(),
  tokenPath: z.string().nullable(),
  /** A daemon's socket and token exist: the lock is written again with this set once they do. */
  serving: z.boolean(),
  startedAt: z.string(),
  version: z.string(),
});
export type LockInfo = z.infer<typeof LockInfo>;

export class DaemonAlreadyRunningError extends AlreadyRunning {
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
/** A daemon that has not served its socket after this long died, or its pid was reused. */
const STARTING_MS = 60_000;
/** A takeover guard older than this was left by a crash mid-takeover. */
const STALE_GUARD_MS = 5_000;

export function lockPathFor(workspace: string): string {
  return join(stateDir(workspace), 'daemon.lock');
}

export class WorkspaceLock {
  private released = false;

  private constructor(
    readonly path: string,
    private current: LockInfo,
    private readonly sealer: StateSeal,
  ) {}

  get info(): LockInfo {
    return this.current;
  }

  /** Takes the workspace's lock or throws `DaemonAlreadyRunningError` naming its holder. */
  static async acquire(workspace: string, info: LockInfo): Promise<WorkspaceLock> {
    const path = lockPathFor(workspace);
    await mkdir(stateDir(workspace), { recursive: true });
    const sealer = new StateSeal(workspace);
    const content = sealedLock(sealer, info);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (await createExclusive(path, content)) return new WorkspaceLock(path, info, sealer);
      const holder = await readHolder(workspace, sealer);
      if (holder.kind === 'live') throw new DaemonAlreadyRunningError(workspace, holder.info);
      if (holder.kind === 'stale') await takeOver(path, holder.raw);
      await delay(RETRY_MS);
    }
    throw new Error(`Could not take the workspace lock ${path}; remove it if no keel process is running.`);
  }

  /** The live holder of a workspace's lock, or null when no daemon or command holds it. */
  static async holder(workspace: string): Promise<LockInfo | null> {
    const holder = await readHolder(workspace, new StateSeal(workspace));
    return holder.kind === 'live' ? holder.info : null;
  }

  /** Says in the lock that the socket and token now exist (written whole: temporary file, rename). */
  async markServing(): Promise<void> {
    this.current = { ...this.current, serving: true };
    const temp = `${this.path}.${process.pid}.tmp`;
    await mkdir(dirname(this.path), { recursive: true });
    await rm(temp, { force: true });
    if (!(await createExclusive(temp, sealedLock(this.sealer, this.current)))) {
      throw new Error(`Could not write ${temp}`);
    }
    await rename(temp, this.path);
  }

  /** Writes the lock again if someone deleted it (with `.keel/`) while this daemon runs. */
  async restoreIfMissing(): Promise<void> {
    if (this.released) return;
    const present = await lstat(this.path).then(
      () => true,
      () => false,
    );
    if (present) return;
    await mkdir(dirname(this.path), { recursive: true });
    await createExclusive(this.path, sealedLock(this.sealer, this.current));
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
      if (current.pid === this.current.pid) unlinkSync(this.path);
    } catch {
      // Already gone or replaced: nothing of ours to remove.
    }
  }

  private async isStillOurs(): Promise<boolean> {
    try {
      const current = safeParseLock((await readStateFile(this.path)) ?? '', this.sealer);
      return current?.pid === this.current.pid && current.startedAt === this.current.startedAt;
    } catch {
      return false;
    }
  }
}

function sealedLock(sealer: StateSeal, info: LockInfo): string {
  return JSON.stringify(sealer.sealObject('lock', LockInfo.parse(info)), null, 2) + '\n';
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

async function readHolder(workspace: string, sealer: StateSeal): Promise<Holder> {
  const path = lockPathFor(workspace);
  let raw: string | null;
  let ageMs: number;
  try {
    [raw, ageMs] = await Promise.all([
      readStateFile(path).catch(() => ''),
      lstat(path).then((s) => Date.now() - s.mtimeMs),
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  if (raw === null) return { kind: 'none' };
  // Not sealed by this user's Keel (forged, cloned, or half-written just now): nobody's lock.
  const parsed = safeParseLock(raw, sealer);
  if (!parsed) return ageMs < 1_000 ? { kind: 'busy' } : { kind: 'stale', raw };
  if (parsed.pid === process.pid || !isProcessAlive(parsed.pid)) return { kind: 'stale', raw };
  // A live pid may have been reused by an unrelated process after a crash: a serving daemon must
  // answer on its socket (the one in the runtime directory, never a path from the file).
  if (parsed.mode === 'daemon') {
    if (parsed.serving && !(await socketAnswers(socketPathFor(workspace)))) return { kind: 'stale', raw };
    if (!parsed.serving && ageMs > STARTING_MS) return { kind: 'stale', raw };
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
    const current = await readStateFile(path).catch(() => '');
    if (current === staleRaw) await rm(path, { force: true });
  } finally {
    await handle.close();
    await rm(guard, { force: true });
  }
}

function safeParseLock(raw: string, sealer: StateSeal): LockInfo | null {
  try {
    const result = LockInfo.safeParse(sealer.openObject('lock', JSON.parse(raw)));
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
