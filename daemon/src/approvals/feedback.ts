/**
 * What the operator taught a runbook, kept as memory: `memory/feedback/<runbook>.md`, one dated
 * section per lesson, naming the decision it came from: an edited approval (the difference as a
 * diff) or a rejection (its reason). The runbook's next runs read the latest lessons into their
 * prompts; a section the operator deletes is gone from them.
 */
import { createTwoFilesPatch } from 'diff';
import type { Proposal } from '@keel/schemas';
import { readInsideText } from '../files/workspacePaths';

const ENTRY_HEADING = '## ';
/** Corrections read into a prompt: the latest ones, within this many characters. */
const PROMPT_BUDGET_CHARS = 3_000;

export function feedbackPath(memoryDir: string, runbook: string): string {
  return `${memoryDir}/feedback/${runbook}.md`;
}

/** The feedback file's new content with this decision's corrections added. */
export async function withFeedback(
  workspace: string,
  path: string,
  proposal: Proposal,
  proposed: Record<string, string | null>,
  approved: Record<string, string | null>,
  at: Date,
): Promise<string> {
  const head = await feedbackHead(workspace, path, proposal);
  const diffs = Object.keys(approved)
    .filter((file) => (proposed[file] ?? null) !== approved[file])
    .map((file) =>
      createTwoFilesPatch(
        `proposed/${file}`,
        `approved/${file}`,
        proposed[file] ?? '',
        approved[file] ?? '',
        '',
        '',
        {
          context: 2,
        },
      )
        .split('\n')
        .filter((line) => !line.startsWith('====='))
        .join('\n')
        .trim(),
    );
  const entry = [
    heading(proposal, at),
    '',
    `${source(proposal)} The operator edited the proposal before approving it:`,
    '',
    ...diffs.flatMap((d) => ['```diff', d, '```', '']),
  ].join('\n');
  return `${head.trimEnd()}\n\n${entry}`;
}

/**
 * The feedback file's new content with the reason of this rejection added as a lesson, or null
 * when the file already holds it (the lesson of a decision is written once, also after a crash).
 */
export async function withLesson(
  workspace: string,
  path: string,
  proposal: Proposal,
  reason: string,
  at: Date,
): Promise<string | null> {
  const head = await feedbackHead(workspace, path, proposal);
  if (head.includes(source(proposal))) return null;
  const entry = [
    heading(proposal, at),
    '',
    `${source(proposal)} The operator rejected it:`,
    '',
    // Quoted: the reason's own lines can never start a section of their own.
    ...reason
      .trim()
      .split(/\r?\n/)
      .map((line) => `> ${line}`.trimEnd()),
    '',
  ].join('\n');
  return `${head.trimEnd()}\n\n${entry}`;
}

/** The file as it is, or its heading for a first lesson. A link (or anything not Keel's to write) throws. */
async function feedbackHead(workspace: string, path: string, proposal: Proposal): Promise<string> {
  const existing = await readInsideText(workspace, path);
  return (
    existing ??
    `---\ntype: feedback\nrunbook: ${proposal.runbook}\n---\n# Operator feedback on ${proposal.runbook}\n\n` +
      `What the operator changed in this runbook's proposals before approving them, and why they\n` +
      `rejected others. Keel adds a section each time; the runbook's next runs read the latest ones.\n` +
      `Delete a section to drop that lesson.\n`
  );
}

/** A lesson's heading: its day and the proposal's summary on one line (a summary is model text). */
function heading(proposal: Proposal, at: Date): string {
  const summary = proposal.summary.replace(/\s+/g, ' ').trim();
  return `${ENTRY_HEADING}${at.toISOString().slice(0, 10)}: ${summary}`;
}

/** The decision a lesson comes from. */
function source(proposal: Proposal): string {
  return `Run ${proposal.runId}, step ${proposal.stepId} (proposal ${proposal.id}).`;
}

/** The latest corrections for a runbook, for its prompts; null when there are none. */
export async function latestFeedback(workspace: string, path: string): Promise<string | null> {
  const text = await readInsideText(workspace, path).catch(() => null);
  if (!text) return null;
  const entries = text.split(/\n(?=## )/).filter((part) => part.startsWith(ENTRY_HEADING));
  const chosen: string[] = [];
  let size = 0;
  for (const entry of entries.reverse()) {
    if (size + entry.length > PROMPT_BUDGET_CHARS && chosen.length > 0) break;
    chosen.unshift(entry.trim());
    size += entry.length;
  }
  return chosen.length > 0 ? chosen.join('\n\n') : null;
}
