/**
 * Small state files Keel keeps under `.keel/` (schedule slots, event cursors, alerts sent): one
 * JSON object, sealed with the per-user key (stateKey.ts) so that a file planted by a cloned
 * repository is never believed, and written whole (temporary file, fsync, rename) so that a crash
 * leaves the old file or the new one, never half of either.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NotAPlainFileError, quarantine, readStateFile, type SealKind, type StateSeal } from './stateKey';

/** What a file holds and what happens without it, for the warning when it is not believed. */
export interface SealedStateWords {
  /** `event cursors`: what Keel writes into the file. */
  holds: string;
  /** `event sources start from now`: what Keel does without it. */
  without: string;
}

/**
 * The file's object, or null when there is none. A file Keel did not seal for this workspace (or
 * that is no JSON, or no plain file) is moved to quarantine, with a warning naming where to, and
 * reads as none.
 */
export async function readSealedState(
  workspace: string,
  path: string,
  kind: SealKind,
  sealer: StateSeal,
  words: SealedStateWords,
  warn: (message: string) => void,
): Promise<Record<string, unknown> | null> {
  const text = await readStateFile(path).catch((error: Error) => {
    if (error instanceof NotAPlainFileError) return '';
    throw error;
  });
  if (text === null) return null;
  let opened: Record<string, unknown> | null = null;
  try {
    opened = sealer.openObject(kind, JSON.parse(text));
  } catch {
    // Not JSON: quarantined below like any other file Keel did not write.
  }
  if (!opened) {
    const moved = await quarantine(workspace, path, `Not ${words.holds} Keel wrote: no valid seal.`);
    warn(
      `${path} was not used: it carries no valid seal (written by hand, cloned with the repository, or ` +
        `by an older Keel). It was moved to ${moved ?? 'quarantine'}; ${words.without}.`,
    );
  }
  return opened;
}

/** Writes the object sealed, whole: a temporary file (0600) is synced, then renamed over the old one. */
export async function writeSealedState(
  path: string,
  kind: SealKind,
  sealer: StateSeal,
  state: object,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(JSON.stringify(sealer.sealObject(kind, state), null, 2) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}
