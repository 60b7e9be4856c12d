/**
 * Where a note a run read sits on disk. The path comes from the run's journal, which notes and
 * model answers may have shaped, so only a relative path that stays inside the workspace resolves.
 */
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

/** The absolute path of `path` under `folder`, or null when it would leave the workspace. */
export function notePathInWorkspace(folder: string, path: string): string | null {
  if (path === '' || isAbsolute(path) || path.includes('\0')) return null;
  const absolute = join(folder, normalize(path));
  const inside = relative(folder, absolute);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return null;
  return absolute;
}
