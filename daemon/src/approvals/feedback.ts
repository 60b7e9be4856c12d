/**
 * What the operator changed in a proposal, kept as memory: `memory/feedback/<runbook>.md`, one
 * dated section per edited approval with the difference as a diff. The runbook's next runs read
 * the latest corrections into their prompts.
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
  // A feedback file that is a link (or otherwise not Keel's to write) stops the apply here.
  const existing = await readInsideText(workspace, path);
  const head =
    existing ??
    `---\ntype: feedback\nrunbook: ${proposal.runbook}\n---\n# Operator feedback on ${proposal.runbook}\n\n` +
      `What the operator changed in this runbook's proposals before approving them. Keel adds a\n` +
      `section each time; the runbook's next runs read the latest ones.\n`;
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
    `${ENTRY_HEADING}${at.toISOString().slice(0, 10)}: ${proposal.summary}`,
    '',
    `Run ${proposal.runId}, step ${proposal.stepId}. The operator edited the proposal before approving it:`,
    '',
    ...diffs.flatMap((d) => ['```diff', d, '```', '']),
  ].join('\n');
  return `${head.trimEnd()}\n\n${entry}`;
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
