/**
 * Which changes an agent may make by itself. Nothing under .git/ is ever written; keel.yaml,
 * runbooks/ and .vscode/ always need the operator's decision, whatever keel.yaml says; other paths
 * matching `approvals.autoApply` are applied at once; everything else waits for approval.
 */
import picomatch from 'picomatch';
import { isProtected, workspaceRelative } from '../files/workspacePaths';

export type ChangePolicy = 'auto' | 'approval';

export function policyFor(
  path: string,
  autoApply: readonly string[],
  runbooksDir = 'runbooks',
): ChangePolicy {
  const relative = workspaceRelative(path); // throws for .git/ and paths outside the workspace
  if (isProtected(relative, runbooksDir)) return 'approval';
  return picomatch.isMatch(relative, [...autoApply], { dot: false }) ? 'auto' : 'approval';
}
