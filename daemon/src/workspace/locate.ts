/** Finding the workspace a command is about: `--workspace DIR`, else the nearest `keel.yaml` upwards. */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CONFIG_FILE } from '@keel/schemas';

export class NotAWorkspaceError extends Error {
  constructor(start: string) {
    super(
      `Not inside a Keel workspace: there is no ${CONFIG_FILE} in ${start} or any folder above it. ` +
        `Run "keel init" to make this folder one, or pass --workspace DIR.`,
    );
    this.name = 'NotAWorkspaceError';
  }
}

/** The nearest folder at or above `start` holding a `keel.yaml`, or null. */
export function findWorkspaceRoot(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE))) return realpathSync(dir);
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** An explicit `--workspace` folder: it must exist, and need not be initialized yet. */
export function resolveExplicitWorkspace(dir: string): string {
  const absolute = resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new Error(`--workspace ${dir}: no such folder (${absolute}).`);
  }
  return realpathSync(absolute);
}

export function resolveWorkspace(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) return resolveExplicitWorkspace(explicit);
  const found = findWorkspaceRoot(cwd);
  if (!found) throw new NotAWorkspaceError(resolve(cwd));
  return found;
}
