/**
 * Where agents may point: inside the workspace, never into a `.git/` folder (at any depth), nor out
 * through `..`. Comparisons ignore case and trailing dots and spaces, because the file systems of
 * macOS and Windows do: `KEEL.yaml` is keel.yaml there.
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import { StepFailedError } from './steps/stepRuntime';

/** Top-level paths an agent can only change with the operator's explicit approval. */
export const PROTECTED_PATHS = ['.vscode/', '.keel/', 'keel.yaml'];

/** The workspace-relative, forward-slash form of `path`; throws if it leaves the workspace or enters `.git/`. */
export function workspaceRelative(path: string): string {
  const cleaned = path.trim().replace(/\\/g, '/');
  if (cleaned === '' || isAbsolute(cleaned) || /^[a-zA-Z]:/.test(cleaned)) {
    throw new StepFailedError(`"${path}" must be a path relative to the workspace`);
  }
  // Git reads a leading ":" as pathspec magic (":/" is the whole repository): never a file name here.
  if (cleaned.startsWith(':')) throw new StepFailedError(`"${path}" is not a file name`);
  const normal = normalize(cleaned).split(sep).join('/').replace(/^\.\//, '');
  if (normal === '..' || normal.startsWith('../'))
    throw new StepFailedError(`"${path}" points outside the workspace`);
  if (normal.split('/').some((segment) => canonical(segment) === '.git'))
    throw new StepFailedError(`"${path}" is inside .git/, which agents never touch`);
  return normal;
}

/**
 * Whether only an explicit decision may change this path: keel.yaml, .vscode/, .keel/ and the
 * runbooks folder (null: leave the runbooks out, for Keel's own writes such as cassettes).
 */
export function isProtected(relative: string, runbooksDir: string | null = 'runbooks'): boolean {
  const path = relative.split('/').map(canonical).join('/');
  const runbooks = runbooksDir === null ? [] : [`${runbooksDir.split('/').map(canonical).join('/')}/`];
  return [...PROTECTED_PATHS, ...runbooks].some((p) =>
    p.endsWith('/') ? path.startsWith(p) || `${path}/` === p : path === p,
  );
}

/** A path segment as case-insensitive file systems see it. */
function canonical(segment: string): string {
  return segment.toLowerCase().replace(/[. ]+$/, '');
}

export function absoluteIn(workspace: string, relative: string): string {
  return join(workspace, ...relative.split('/'));
}
