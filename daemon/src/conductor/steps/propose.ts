/**
 * `propose`: a file change for the operator to approve. The change is recorded with the hash of
 * the file it was computed against; nothing is written to the file. (Approving and applying
 * proposals is the approvals module's job.)
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RunbookStep } from '@keel/schemas';
import { renderText } from '../expressions';
import { absoluteIn, isProtected, workspaceRelative } from '../workspacePaths';
import type { StepResult, StepRuntime } from './stepRuntime';

type ProposeStep = Extract<RunbookStep, { type: 'propose' }>;

export interface Proposal {
  kind: 'proposal';
  path: string;
  /** `create` when the file does not exist yet. */
  change: 'create' | 'modify';
  /** sha256 of the file the change was computed against, or null for a new file. */
  baseHash: string | null;
  content: string;
  summary: string;
  /** keel.yaml, runbooks, .vscode/: always needs an explicit decision. */
  protected: boolean;
  status: 'recorded';
}

export async function proposeChange(
  runtime: StepRuntime,
  change: { path: string; content: string; summary: string },
): Promise<Proposal> {
  const path = workspaceRelative(change.path);
  const current = await readFile(absoluteIn(runtime.workspace, path)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    },
  );
  return {
    kind: 'proposal',
    path,
    change: current ? 'modify' : 'create',
    baseHash: current ? createHash('sha256').update(current).digest('hex') : null,
    content: change.content,
    summary: change.summary,
    protected: isProtected(path) || path.startsWith('runbooks/'),
    status: 'recorded',
  };
}

export async function runPropose(step: ProposeStep, runtime: StepRuntime): Promise<StepResult> {
  return {
    output: await proposeChange(runtime, {
      path: renderText(step.path, runtime.scope),
      content: renderText(step.content, runtime.scope),
      summary: renderText(step.summary, runtime.scope),
    }),
  };
}
