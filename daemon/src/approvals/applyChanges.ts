/**
 * Writing approved changes: every file checked against the hash its change was computed on, then
 * all files written or none (each by temporary file in `.keel/tmp/`, fsync and rename, so a file
 * is never torn), every path through the workspace's path rules (files/workspacePaths.ts),
 * then one git commit naming the run, step, runbook and decision.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { Proposal } from '@keel/schemas';
import {
  absoluteIn,
  commitCreate,
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
 * fails, the files already renamed get their old content back. Paths in `createOnly` are only ever
 * created: one that exists by then (with other content) fails the whole write with a
 * FileAppearedError, and is left as it is.
 */
export async function writeAll(
  workspace: string,
  contents: Record<string, string | null>,
  createOnly: readonly string[] = [],
): Promise<void> {
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
      if (write && createOnly.includes(path)) await createNew(workspace, write, contents[path]!);
      else if (write) await commitWrite(workspace, write);
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

/** A file a change was to create exists by the time it is written: it is not overwritten. */
export class FileAppearedError extends Error {}

/**
 * Puts the staged file at its target only if nothing is there. The same content already there is
 * this very write, done before a crash, and counts as done.
 */
async function createNew(workspace: string, write: StagedWrite, content: string): Promise<void> {
  try {
    if (await commitCreate(workspace, write)) return;
  } finally {
    await rm(write.temp, { force: true });
  }
  if ((await readFile(write.target, 'utf8').catch(() => null)) !== content) {
    throw new FileAppearedError(`${write.path} was created meanwhile; it is not overwritten`);
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
 * repository. The message says who decided: the operator (`approved`, `edited`) or a policy rule
 * (`policy`, with a `Keel-Policy-Rule` trailer per rule).
 */
export async function commitProposal(
  workspace: string,
  proposal: Proposal,
  decision: 'approved' | 'edited' | 'policy',
  rules: string[],
  extraPaths: string[],
): Promise<string | null> {
  if ((await gitPresence(workspace)) !== 'repository') return null;
  const existing = await commitWithTrailer(workspace, 'Keel-Proposal', proposal.id);
  if (existing) return existing;
  const who = {
    approved: 'Approved by the operator',
    edited: 'Edited and approved by the operator',
    policy: `Applied without review by the keel.yaml approvals rule ${rules.map((r) => `"${r}"`).join(', ')}`,
  }[decision];
  const reasoning = quoteAgentText(proposal.reasoning);
  const message = [
    subjectLine(proposal.summary),
    '',
    `${who}; proposed by the ${oneLine(proposal.runbook)} runbook.`,
    ...(reasoning ? ['', reasoning] : []),
    '',
    `Keel-Run: ${oneLine(proposal.runId)}`,
    `Keel-Step: ${oneLine(proposal.stepId)}`,
    `Keel-Runbook: ${oneLine(proposal.runbook)}`,
    `Keel-Decision: ${decision}`,
    ...rules.map((rule) => `Keel-Policy-Rule: ${oneLine(rule)}`),
    `Keel-Proposal: ${oneLine(proposal.id)}`,
  ].join('\n');
  return commitPaths(workspace, [...proposal.changes.map((c) => c.path), ...extraPaths], message);
}

/**
 * Commits the lesson a rejection added to the runbook's feedback file, once (`Keel-Lesson`
 * trailer); null when the workspace is not a git repository.
 */
export async function commitLesson(
  workspace: string,
  proposal: Proposal,
  path: string,
): Promise<string | null> {
  if ((await gitPresence(workspace)) !== 'repository') return null;
  const existing = await commitWithTrailer(workspace, 'Keel-Lesson', proposal.id);
  if (existing) return existing;
  const message = [
    subjectLine(`Lesson for ${proposal.runbook}: ${proposal.summary}`),
    '',
    `Rejected by the operator; the reason is kept as a lesson in ${oneLine(path)} for the ` +
      `${oneLine(proposal.runbook)} runbook's next runs.`,
    '',
    `Keel-Run: ${oneLine(proposal.runId)}`,
    `Keel-Step: ${oneLine(proposal.stepId)}`,
    `Keel-Runbook: ${oneLine(proposal.runbook)}`,
    'Keel-Decision: rejected',
    `Keel-Lesson: ${oneLine(proposal.id)}`,
  ].join('\n');
  return commitPaths(workspace, [path], message);
}

const SUBJECT_MAX = 120;

/** Text made one line: every run of whitespace (newlines included) becomes one space. */
function oneLine(text: string): string {
  return withoutControls(text, false).replace(/\s+/g, ' ').trim();
}

/** Control characters (and Unicode line breaks) as spaces; newlines kept when `keepNewlines`. */
function withoutControls(text: string, keepNewlines: boolean): string {
  return [...text]
    .map((c) =>
      (c < ' ' && !(keepNewlines && c === '\n') && c !== '\t') ||
      c === '\u007f' ||
      c === '\u2028' ||
      c === '\u2029'
        ? ' '
        : c,
    )
    .join('');
}

/** The summary (often model text) as the commit's subject: one line, bounded, never empty. */
function subjectLine(summary: string): string {
  const line = oneLine(summary) || 'Keel change';
  return line.length > SUBJECT_MAX ? `${line.slice(0, SUBJECT_MAX - 1)}…` : line;
}

/**
 * The agent's reasoning, quoted line by line ("> "), in the middle of the message: nothing in it
 * can read as a trailer (`Key: value`), a patch divider (`---`) or a comment, whichever parser
 * reads the message, so only Keel's own last paragraph carries trailers.
 */
function quoteAgentText(text: string): string {
  const lines = withoutControls(text, true)
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line === '' ? '>' : `> ${line}`)).join('\n');
}

async function removeTemps(staged: { write: StagedWrite | null }[]): Promise<void> {
  for (const { write } of staged) if (write) await rm(write.temp, { force: true });
}
