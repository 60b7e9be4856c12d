/** Where agents may point: inside the workspace, never into `.git/`, nor out through `..`. */
import { isAbsolute, join, normalize, sep } from 'node:path';
import { StepFailedError } from './steps/stepRuntime';

/** Paths an agent can only change with the operator's explicit approval. */
export const PROTECTED_PATHS = ['.git/', '.vscode/', '.keel/', 'keel.yaml'];

/** The workspace-relative, forward-slash form of `path`; throws if it leaves the workspace or enters `.git/`. */
export function workspaceRelative(path: string): string {
  const cleaned = path.trim().replace(/\\/g, '/');
  if (cleaned === '' || isAbsolute(cleaned) || /^[a-zA-Z]:/.test(cleaned)) {
    throw new StepFailedError(`"${path}" must be a path relative to the workspace`);
  }
  const normal = normalize(cleaned).split(sep).join('/').replace(/^\.\//, '');
  if (normal === '..' || normal.startsWith('../'))
    throw new StepFailedError(`"${path}" points outside the workspace`);
  if (normal === '.git' || normal.startsWith('.git/'))
    throw new StepFailedError(`"${path}" is inside .git/, which agents never touch`);
  return normal;
}

export function isProtected(relative: string): boolean {
  return PROTECTED_PATHS.some((p) =>
    p.endsWith('/') ? relative.startsWith(p) || `${relative}/` === p : relative === p,
  );
}

export function absoluteIn(workspace: string, relative: string): string {
  return join(workspace, ...relative.split('/'));
}
