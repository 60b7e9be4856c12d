/**
 * Writing approved changes: every file checked against the hash its change was computed on, then
 * all files written or none (each by temporary file in `.keel/tmp/`, fsync and rename, so a file
 * is never torn), every path through the workspace's path rules (files/workspacePaths.ts),
 * then one git commit naming the run, step, runbook and decision.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Proposal } from '@keel/schemas';
import {
  absoluteIn,
  commitWrite,
  readInsideText,
  removeInside,
  stageWrite,
  writableTarget,
  writeInside,
  type StagedWrite,
} from '../files/workspacePaths';
import { expectOwnWrite } from '../files/ownWrites';
import { commitPaths, commitWithTrailer, gitPresence } from '../workspace/git';

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Each path's content on disk now, or null when the file does not exist. Read through the
 * workspace's path rules: a path outside, into `.git/` or through a symlink throws.
 */
export async function currentContents(
  workspace: string,
  paths: string[],
): Promise<Record<string, string | null>> {
  const contents: Record<string, string | null> = {};
  for (const path of paths) contents[path] = await readInsideText(workspace, path);
  return contents;
}

/** The files that changed since the proposal was computed (their base hash no longer matches). */
export async function changedSince(
  workspace: string,
  proposal: Proposal,
): Promise<Record<string, string | null>> {
  const now = await currentContents(
    workspace,
    proposal.changes.map((c) => c.path),
  );
  const changed: Record<string, string | null> = {};
  for (const change of proposal.changes) {
    const current = now[change.path] ?? null;
    const hash = current === null ? null : sha256(current);
    if (hash !== change.baseHash) changed[change.path] = hash;
  }
  return changed;
}

/**
 * Writes every file (null deletes it), all or nothing: every path checked and every temporary
 * file (in `.keel/tmp/`, never beside the target) written first, then the renames; if a rename
 * fails, the files already renamed get their old content back.
 */
export async function writeAll(workspace: string, contents: Record<string, string | null>): Promise<void> {
  const before = await currentContents(workspace, Object.keys(contents));
  const staged: { path: string; write: StagedWrite | null }[] = [];
  try {
    for (const [path, content] of Object.entries(contents)) {
      if (content === null) {
        await writableTarget(workspace, path, false).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
        staged.push({ path, write: null });
      } else {
        staged.push({ path, write: await stage(workspace, path, content) });
      }
    }
  } catch (error) {
    await removeTemps(staged);
    throw error;
  }
  const done: string[] = [];
  try {
    for (const { path, write } of staged) {
      if (write) await commitWrite(workspace, write);
      else await removeInside(workspace, path);
      done.push(path);
    }
  } catch (error) {
    for (const [path, content] of Object.entries(before)) {
      if (!done.includes(path)) continue;
      if (content === null) await removeInside(workspace, path).catch(() => undefined);
      else await writeInside(workspace, path, content).catch(() => undefined);
    }
    await removeTemps(staged);
    throw error;
  }
}

/** Stages `content` for `path` in `.keel/tmp/`, announced as Keel's own write. */
async function stage(workspace: string, path: string, content: string): Promise<StagedWrite> {
  // Renamed over the target next: file-change triggers must not take it for the operator's edit.
  expectOwnWrite(absoluteIn(workspace, path), content);
  return stageWrite(workspace, path, content);
}

/**
 * Commits the proposal's files, once: a commit already carrying its `Keel-Proposal` trailer (made
 * before a crash) is returned instead of a second one. Null when the workspace is not a git
 * repository.
 */
export async function commitProposal(
  workspace: string,
  proposal: Proposal,
  decision: 'approved' | 'edited',
  extraPaths: string[],
): Promise<string | null> {
  if ((await gitPresence(workspace)) !== 'repository') return null;
  const existing = await commitWithTrailer(workspace, 'Keel-Proposal', proposal.id);
  if (existing) return existing;
  const message = [
    proposal.summary,
    '',
    `${decision === 'edited' ? 'Edited and approved' : 'Approved'} by the operator; proposed by the ${proposal.runbook} runbook.`,
    ...(proposal.reasoning ? ['', proposal.reasoning] : []),
    '',
    `Keel-Run: ${proposal.runId}`,
    `Keel-Step: ${proposal.stepId}`,
    `Keel-Runbook: ${proposal.runbook}`,
    `Keel-Decision: ${decision}`,
    `Keel-Proposal: ${proposal.id}`,
  ].join('\n');
  return commitPaths(workspace, [...proposal.changes.map((c) => c.path), ...extraPaths], message);
}

async function removeTemps(staged: { write: StagedWrite | null }[]): Promise<void> {
  for (const { write } of staged) if (write) await rm(write.temp, { force: true });
}
