/**
 * A file proposal as the approval inbox shows it inline: per changed file a unified diff (jsdiff's
 * hunks with a few lines of context, numbered on both sides) from the file as it is now to the
 * proposed content, the same two sides the diff editor shows; capped so a large proposal stays
 * readable (the rest is one keypress away in the diff editor). Pure, run on the extension host.
 */
import { structuredPatch } from 'diff';
import type { FileChange, Proposal } from '@keel/schemas';
import type {
  InboxDiffHunk,
  InboxDiffLine,
  InboxFileDiff,
  InboxProposalDiff,
} from '@keel/schemas/src/webviews';

/** Lines of a proposal's diff shown inline, across its files; the diff editor shows all of them. */
export const INLINE_DIFF_LINES = 400;
/** Unchanged lines shown around each change. */
export const CONTEXT_LINES = 3;
/** A line longer than this is cut: one minified line must not flood the inbox. */
export const MAX_LINE_CHARS = 2_000;
/** jsdiff gives up after this long, on files too different to compare while the operator waits. */
const DIFF_TIMEOUT_MS = 500;

/** Each changed file as it is now (null when absent), as `keel/approvals/get` answers. */
export type CurrentContents = Readonly<Record<string, string | null>>;

/**
 * The two sides of one changed file: the file as the daemon read it now (empty when it does not
 * exist) and the agent's proposed content (empty for a deletion). The diff editor's documents
 * (proposalDocuments.ts) and the inline diff both read them here.
 */
export function sidesOf(
  proposal: Pick<Proposal, 'changes'>,
  current: CurrentContents,
  path: string,
): { current: string; proposed: string } {
  return {
    current: current[path] ?? '',
    proposed: proposal.changes.find((c) => c.path === path)?.content ?? '',
  };
}

/** What the operator changed of the proposal: their saved edit of each proposed file, by path. */
export type EditedContents = Readonly<Record<string, string>>;

/**
 * The diff of every changed file, at most `cap` lines in all (the rest is counted, not sent), to
 * the operator's edit of a file where they made one, since approving applies that.
 */
export function proposalDiff(
  proposal: Pick<Proposal, 'changes'>,
  current: CurrentContents,
  { edits = {}, cap = INLINE_DIFF_LINES }: { edits?: EditedContents; cap?: number } = {},
): InboxProposalDiff {
  let left = cap;
  let omitted = 0;
  const files = proposal.changes.map((change) => {
    const sides = sidesOf(proposal, current, change.path);
    const edit = change.action === 'delete' ? undefined : edits[change.path];
    const file = fileDiff(change, sides.current, edit ?? sides.proposed, left);
    if (edit !== undefined) file.edited = true;
    left -= file.hunks.reduce((sum, hunk) => sum + hunk.lines.length, 0);
    omitted += file.omitted;
    return file;
  });
  return { files, omitted };
}

/** One file's diff, keeping at most `room` lines. */
export function fileDiff(
  change: Pick<FileChange, 'path' | 'action'>,
  before: string,
  after: string,
  room: number,
): InboxFileDiff {
  const file: InboxFileDiff = {
    path: change.path,
    action: change.action,
    kind: 'text',
    hunks: [],
    added: 0,
    removed: 0,
    omitted: 0,
  };
  if (isBinary(before) || isBinary(after)) return { ...file, kind: 'binary' };
  if (before === after) return { ...file, kind: 'identical' };
  const patch = structuredPatch('current', 'proposed', before, after, undefined, undefined, {
    context: CONTEXT_LINES,
    timeout: DIFF_TIMEOUT_MS,
  });
  if (!patch) return { ...file, kind: 'tooLarge' };
  for (const hunk of patch.hunks) {
    const lines = numberedLines(hunk);
    for (const line of lines) {
      if (line.kind === 'added') file.added++;
      if (line.kind === 'removed') file.removed++;
    }
    const kept = Math.max(0, Math.min(lines.length, room));
    room -= kept;
    file.omitted += lines.length - kept;
    if (kept > 0) file.hunks.push({ ...hunkRange(hunk), lines: lines.slice(0, kept) });
  }
  return file;
}

/** A NUL byte (git's test for binary), or U+FFFD: the daemon read bytes that are not UTF-8. */
function isBinary(text: string): boolean {
  return text.includes('\0') || text.includes('\uFFFD');
}

type JsdiffHunk = Omit<InboxDiffHunk, 'lines'> & { lines: string[] };

function hunkRange(hunk: JsdiffHunk): Omit<InboxDiffHunk, 'lines'> {
  return {
    oldStart: hunk.oldStart,
    oldLines: hunk.oldLines,
    newStart: hunk.newStart,
    newLines: hunk.newLines,
  };
}

/** jsdiff's `+`/`-`/` ` lines with their numbers on both sides; `\ No newline` marks the line before. */
function numberedLines(hunk: JsdiffHunk): InboxDiffLine[] {
  const lines: InboxDiffLine[] = [];
  let oldLine = hunk.oldStart;
  let newLine = hunk.newStart;
  for (const raw of hunk.lines) {
    const sign = raw[0];
    if (sign === '\\') {
      const last = lines.at(-1);
      if (last) last.noNewline = true;
      continue;
    }
    const text = cut(raw.slice(1));
    if (sign === '+') lines.push({ kind: 'added', text, oldLine: null, newLine: newLine++ });
    else if (sign === '-') lines.push({ kind: 'removed', text, oldLine: oldLine++, newLine: null });
    else lines.push({ kind: 'context', text, oldLine: oldLine++, newLine: newLine++ });
  }
  return lines;
}

function cut(text: string): string {
  const line = text.endsWith('\r') ? text.slice(0, -1) : text;
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… (line cut)` : line;
}
