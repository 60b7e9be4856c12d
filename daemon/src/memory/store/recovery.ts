/**
 * When a store is damaged (a crash mid-write, a truncated file, a corrupt block, a folder it may no
 * longer write), it is moved aside to `.keel/quarantine/` (kept for a post-mortem, never deleted by
 * Keel) and a fresh one is built from the files. What counts as damage, and what is only a passing
 * failure to retry (a full disk), is decided here.
 */
import { chmod, lstat, mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';

export async function quarantine(stateDir: string, target: string): Promise<string | null> {
  // lstat: a link is moved as a link, never followed (nor its target's mode changed).
  const info = await lstat(target).catch(() => null);
  if (!info) return null;
  const folder = join(stateDir, 'quarantine');
  await mkdir(folder, { recursive: true });
  const destination = join(folder, `${basename(target)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  try {
    await rename(target, destination);
  } catch (error) {
    // Moving a read-only folder to another parent needs write access to it (its `..` changes).
    if (!info.isDirectory() || info.isSymbolicLink() || !isPermissionError(error)) throw error;
    await chmod(target, info.mode | 0o700);
    await rename(target, destination);
  }
  return destination;
}

/**
 * How a failed read or write of the index is handled: `full` (no space left) is retried as it is,
 * `permission` (a store Keel may no longer write) is damage to quarantine, and anything else is
 * damage only if the stores fail a health check (see MemoryService.checkHealth).
 */
export type FailureKind = 'full' | 'permission' | 'other';

export function failureKind(error: unknown): FailureKind {
  const text = errorText(error);
  if (/ENOSPC|EDQUOT|no space left|disk is full|disk quota/i.test(text)) return 'full';
  if (isPermissionError(error)) return 'permission';
  return 'other';
}

function isPermissionError(error: unknown): boolean {
  return /EACCES|EPERM|EROFS|permission denied|read-only file system|operation not permitted/i.test(
    errorText(error),
  );
}

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  return `${code} ${error instanceof Error ? error.message : String(error)}`;
}

/** What an operator reads in the status while the index cannot be written, with the fix. */
export function writeProblemMessage(
  kind: FailureKind,
  stateDir: string,
  detail: string,
  retryMs: number,
): string {
  const retry = `Keel retries in ${Math.ceil(retryMs / 1000)} s and indexes the waiting notes then, without another save.`;
  if (kind === 'full') {
    return `Cannot write the memory index: the disk holding ${stateDir} is full (ENOSPC: no space left on device). Free some space; ${retry}`;
  }
  if (kind === 'permission') {
    return `Cannot write the memory index: permission denied in ${stateDir} (${detail}). Make the folder writable (chmod -R u+w "${stateDir}"); ${retry}`;
  }
  return `Cannot write the memory index (${detail}). ${retry}`;
}
