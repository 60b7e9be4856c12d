/**
 * Writing approved changes: every file checked against the hash its change was computed on, then
 * all files written or none (each by temporary file, fsync and rename, so a file is never torn),
 * then one git commit naming the run, step, runbook and decision.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Proposal } from '@keel/schemas';
import { absoluteIn } from '../conductor/workspacePaths';
import { expectOwnWrite } from '../files/ownWrites';
import { commitPaths, commitWithTrailer, gitPresence } from '../workspace/git';

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Each path's content on disk now, or null when the file does not exist. */
export async function currentContents(
  workspace: string,
  paths: string[],
): Promise<Record<string, string | null>> {
  const contents: Record<string, string | null> = {};
  for (const path of paths) {
    contents[path] = await readFile(absoluteIn(workspace, path), 'utf8').catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      },
    );
  }
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
 * Writes every file (null deletes it), all or nothing: temporary files first, then the renames; if
 * a rename fails, the files already renamed get their old content back.
 */
export async function writeAll(workspace: string, contents: Record<string, string | null>): Promise<void> {
  const before = await currentContents(workspace, Object.keys(contents));
  const staged: { target: string; temp: string | null }[] = [];
  try {
    for (const [path, content] of Object.entries(contents)) {
      const target = absoluteIn(workspace, path);
      staged.push({ target, temp: content === null ? null : await stage(target, content) });
    }
  } catch (error) {
    await removeTemps(staged);
    throw error;
  }
  const done: string[] = [];
  try {
    for (const { target, temp } of staged) {
      if (temp) await rename(temp, target);
      else await rm(target, { force: true });
      done.push(target);
    }
  } catch (error) {
    for (const [path, content] of Object.entries(before)) {
      const target = absoluteIn(workspace, path);
      if (!done.includes(target)) continue;
      if (content === null) await rm(target, { force: true }).catch(() => undefined);
      else await rename(await stage(target, content), target).catch(() => undefined);
    }
    await removeTemps(staged);
    throw error;
  }
}

/** Writes `content` next to `target` and fsyncs it; returns the temporary file's path. */
async function stage(target: string, content: string): Promise<string> {
  // Renamed over `target` next: file-change triggers must not take it for the operator's edit.
  expectOwnWrite(target, content);
  await mkdir(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.${basename(target)}.keel-${randomBytes(4).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', 0o644);
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  return temp;
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

async function removeTemps(staged: { temp: string | null }[]): Promise<void> {
  for (const { temp } of staged) if (temp) await rm(temp, { force: true });
}
