/**
 * Which changes an agent may make by itself. Nothing under .git/ is ever written; keel.yaml,
 * runbooks/ and .vscode/ always need the operator's decision, whatever keel.yaml says; a change
 * whose kind a rule of `approvals.rules` allows for its path is applied at once (and recorded as
 * decided by that rule); everything else waits for the operator.
 *
 * The kind is what the change does to the file on disk, never what the model claims: writing a
 * path that exists is a `modify`, even when it was proposed as a new file.
 */
import picomatch from 'picomatch';
import type { ApprovalRule, ChangeKind, WorkspaceConfig } from '@keel/schemas';
import { isProtected, workspaceRelative } from '../files/workspacePaths';

/** The rules in force: `approvals.rules`, then the deprecated `autoApply` globs as create-only rules. */
export function approvalRules(approvals: WorkspaceConfig['approvals']): ApprovalRule[] {
  return [
    ...approvals.rules,
    ...(approvals.autoApply ?? []).map((path): ApprovalRule => ({ path, allow: ['create'] })),
  ];
}

/** How a rule is named in commits, proposals and reports: `memory/working/** allow create`. */
export function describeRule(rule: ApprovalRule): string {
  return `${rule.path} allow ${rule.allow.join(', ')}${rule.events ? ' (events too)' : ''}`;
}

/** Whether a path always needs the operator's explicit decision (throws for .git/ and outside). */
export function needsOperator(path: string, runbooksDir = 'runbooks'): boolean {
  return isProtected(workspaceRelative(path), runbooksDir);
}

/**
 * The first rule that lets `kind` of change to `path` through without the operator, or null when
 * the operator decides. Throws for .git/ and for paths outside the workspace.
 */
export function ruleFor(
  path: string,
  kind: ChangeKind,
  rules: readonly ApprovalRule[],
  runbooksDir = 'runbooks',
  /** The change comes from a run started by an event: only rules with `events: true` hold. */
  fromEvent = false,
): ApprovalRule | null {
  const relative = workspaceRelative(path);
  if (isProtected(relative, runbooksDir)) return null;
  return (
    rules.find(
      (rule) =>
        (!fromEvent || rule.events === true) &&
        rule.allow.includes(kind) &&
        picomatch.isMatch(relative, rule.path, { dot: false }),
    ) ?? null
  );
}

/** What keel.yaml's `approvals.autoApply` now means, and how to write it instead. */
export const AUTO_APPLY_DEPRECATED =
  'approvals.autoApply is deprecated and now lets agents only create new files at these paths ' +
  '(never modify or delete existing ones). In keel.yaml, replace it with ' +
  '"rules: [{ path: <glob>, allow: [create] }]" under approvals, adding modify or delete only ' +
  'for paths where agents may change existing files without asking.';
