/**
 * When a store cannot be opened (a crash mid-write, a truncated file, a full disk), it is moved
 * aside to `.keel/quarantine/` (kept for a post-mortem, never deleted by Keel) and a fresh one is
 * built from the files.
 */
import { mkdir, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

export async function quarantine(stateDir: string, target: string): Promise<string | null> {
  const exists = await stat(target).then(
    () => true,
    () => false,
  );
  if (!exists) return null;
  const folder = join(stateDir, 'quarantine');
  await mkdir(folder, { recursive: true });
  const destination = join(folder, `${basename(target)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await rename(target, destination);
  return destination;
}
