/**
 * Files Keel writes into the workspace (approved changes, outbox files, cassettes), registered by
 * their writers just before writing, so that file-change triggers can tell them from the
 * operator's edits. A change is Keel's when the file, once settled, holds exactly what Keel wrote:
 * an edit made after Keel's write has other content and is the operator's again.
 */
import { createHash } from 'node:crypto';

/** How long a registered write is remembered: far longer than any watcher's delay. */
const REMEMBER_MS = 60_000;

const writes = new Map<string, { sha256: string; until: number }[]>();

function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Registers that Keel is about to write `content` to `absolutePath`. */
export function expectOwnWrite(absolutePath: string, content: string | Buffer): void {
  const now = Date.now();
  forget(now);
  const entries = writes.get(absolutePath) ?? [];
  entries.push({ sha256: sha256(content), until: now + REMEMBER_MS });
  writes.set(absolutePath, entries);
}

/** Whether Keel may have written this path lately (cheap: no hashing). */
export function mayBeOwnWrite(absolutePath: string): boolean {
  forget(Date.now());
  return writes.has(absolutePath);
}

/** Whether `content`, found at `absolutePath`, is what Keel wrote there lately. */
export function isOwnWrite(absolutePath: string, content: string | Buffer): boolean {
  forget(Date.now());
  const hash = sha256(content);
  return writes.get(absolutePath)?.some((entry) => entry.sha256 === hash) ?? false;
}

function forget(now: number): void {
  for (const [path, entries] of writes) {
    const live = entries.filter((entry) => entry.until > now);
    if (live.length === 0) writes.delete(path);
    else if (live.length !== entries.length) writes.set(path, live);
  }
}
