/**
 * The proposals waiting for the operator, and the words, titles and addresses they are shown with.
 * Pure, shared by the extension host and the sidebar's browser script, and unit-tested.
 */
// Types only: the sidebar's browser bundle must not pull in zod.
import type { FileChange, Proposal, RunSummary } from '@keel/schemas';

/** Waiting for a decision: pending, or stale (a file changed since; to be looked at again). */
export function isOpen(proposal: Proposal): boolean {
  return proposal.status === 'pending' || proposal.status === 'stale';
}

/** Oldest first, as a queue is worked through; proposals made at the same instant keep a stable order. */
export function sortApprovals(proposals: readonly Proposal[]): Proposal[] {
  return [...proposals].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** The open proposals after one changed: replaced, added, or dropped once decided. */
export function mergeApproval(proposals: readonly Proposal[], proposal: Proposal): Proposal[] {
  const rest = proposals.filter((p) => p.id !== proposal.id);
  return sortApprovals(isOpen(proposal) ? [...rest, proposal] : rest);
}

export const CHANGE_LABELS: Record<FileChange['action'], string> = {
  create: 'create',
  modify: 'modify',
  delete: 'delete',
};

/** A sign per kind of change, always shown next to its word. */
export const CHANGE_ICONS: Record<FileChange['action'], string> = {
  create: '+',
  modify: '~',
  delete: '−',
};

export function fileName(path: string): string {
  return path.split('/').at(-1) ?? path;
}

/** An action proposal's row line: `mail.send (external): risk external: asks unless ...`. */
export function actionLine(proposal: Pick<Proposal, 'action'>): string | null {
  const action = proposal.action;
  return action ? `${action.connector}.${action.action} (${action.risk}): ${action.rule}` : null;
}

/** One line a screen reader reads for a proposal: everything its row shows, in words. */
export function describeApproval(proposal: Proposal): string {
  const files = proposal.changes.map((c) => `${CHANGE_LABELS[c.action]} ${c.path}`).join(', ');
  const parts = [
    proposal.summary,
    `proposed by ${proposal.runbook}`,
    proposal.status === 'stale' ? 'stale: a file changed since it was proposed' : null,
    proposal.protected ? 'protected file' : null,
    actionLine(proposal),
    files === '' ? null : files,
  ];
  return parts.filter((part) => part !== null).join(', ');
}

/** Why a stale proposal needs another look. */
export function staleNote(proposal: Proposal): string | null {
  if (proposal.status !== 'stale') return null;
  const files = proposal.staleFiles.length > 0 ? proposal.staleFiles.join(', ') : 'A file';
  return `${files} changed after this was proposed: look at the new diff before deciding.`;
}

/** The diff editor's title: `acme.md (proposed by onboarding)`. */
export function diffTitle(
  proposal: Pick<Proposal, 'runbook'>,
  change: Pick<FileChange, 'path' | 'action'>,
  editing: boolean,
): string {
  const name = fileName(change.path);
  if (editing) return `${name} (your edit of ${proposal.runbook}'s proposal)`;
  if (change.action === 'delete') return `${name} (deletion proposed by ${proposal.runbook})`;
  return `${name} (proposed by ${proposal.runbook})`;
}

/** Which side of a proposal's diff a virtual document is. */
/** A diff's sides, and `context`: what an action proposal is shown beside (why, and the run's inputs). */
export type ProposalSide = 'current' | 'proposed' | 'context';

/**
 * The path of a proposal's virtual document: `/<id>/<side>/<file path>`. The file's own name comes
 * last, so the editor picks its language (Markdown, YAML) and shows its name.
 */
export function proposalDocumentPath(id: string, side: ProposalSide, path: string): string {
  return `/${encodeURIComponent(id)}/${side}/${path}`;
}

export function parseProposalDocumentPath(
  documentPath: string,
): { id: string; side: ProposalSide; path: string } | null {
  const [, id, side, path] = /^\/([^/]+)\/(current|proposed|context)\/(.+)$/.exec(documentPath) ?? [];
  if (!id || !side || !path) return null;
  return { id: decodeURIComponent(id), side: side as ProposalSide, path };
}

/** Where the operator's editable copy of a proposed file lives, relative to the workspace. */
export function editCopyPath(id: string, path: string): string {
  return `.keel/edits/${encodeURIComponent(id)}/${path}`;
}

/** The proposal and file an editable copy belongs to, from its workspace-relative path. */
export function parseEditCopyPath(relative: string): { id: string; path: string } | null {
  const [, id, path] = /^\.keel\/edits\/([^/]+)\/(.+)$/.exec(relative) ?? [];
  return id && path ? { id: decodeURIComponent(id), path } : null;
}

const REVIEW_EXTENSIONS: Record<NonNullable<Proposal['action']>['review']['language'], string> = {
  // An email (headers, a blank line, the body) reads and edits best as plain text.
  email: 'txt',
  yaml: 'yaml',
  markdown: 'md',
};

/**
 * The file name of an action's review document in its edit copy (`mail.send.txt`): the extension
 * picks the editor's language.
 */
export function reviewFileName(action: NonNullable<Proposal['action']>): string {
  return `${action.connector}.${action.action}.${REVIEW_EXTENSIONS[action.review.language]}`;
}

/** The operator's version of an action's review document, or undefined when they changed nothing. */
export function editedReview(
  proposal: Pick<Proposal, 'action'>,
  text: string | undefined,
): string | undefined {
  const original = proposal.action?.review.text;
  if (original === undefined || text === undefined) return undefined;
  return text.replace(/\r\n/g, '\n') === original.replace(/\r\n/g, '\n') ? undefined : text;
}

/**
 * What the operator changed: the files whose edited text differs from the proposal, or undefined
 * when they changed nothing (the decision is then a plain approval).
 */
export function editedFiles(
  proposal: Pick<Proposal, 'changes'>,
  texts: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const edited: Record<string, string> = {};
  for (const change of proposal.changes) {
    const text = texts[change.path];
    if (change.action === 'delete' || text === undefined || text === change.content) continue;
    edited[change.path] = text;
  }
  return Object.keys(edited).length > 0 ? edited : undefined;
}

/** What the operator is told once a decision is recorded. */
export function decisionMessage(proposal: Proposal): string {
  const decision = proposal.decision;
  const what = `“${proposal.summary}”`;
  if (!decision) return `Keel: ${what} is ${proposal.status}.`;
  const commit = decision.commit ? `committed ${decision.commit.slice(0, 7)}` : 'applied';
  switch (decision.kind) {
    case 'approved':
      return `Keel: approved ${what}: ${commit}.`;
    case 'edited':
      return `Keel: approved ${what} with your edits: ${commit}. Your correction is remembered for ${proposal.runbook}'s next runs.`;
    case 'rejected':
      return `Keel: rejected ${what}. The run of ${proposal.runbook} is told why.`;
    case 'policy':
      return `Keel: ${what} was applied without review by the keel.yaml rule ${decision.rule ?? '(unnamed)'}: ${commit}.`;
  }
}

/** The name of an action proposal's context document (Markdown, read-only, beside its review). */
export const ACTION_CONTEXT_FILE = 'context.md';

/** Longest input value shown in full in an action's context; longer ones are cut, saying so. */
const CONTEXT_VALUE_LIMIT = 4_000;

/**
 * What the operator reads beside an action's review document: the action and its risk, why it
 * waits (the keel.yaml rule, and what the agent said when it chose it), and the run it belongs to
 * with its inputs (the mail being answered), each quoted: a mail's body is the sender's words.
 */
export function actionContext(proposal: Proposal, run: Pick<RunSummary, 'status' | 'inputs'> | null): string {
  const action = proposal.action;
  const lines = [
    `# ${action ? `${action.connector}.${action.action}` : proposal.summary}: waits for your decision`,
    '',
    `Run \`${proposal.runId}\` of **${proposal.runbook}**, step \`${proposal.stepId}\`${run ? ` (${run.status})` : ''}.`,
  ];
  if (action) lines.push(`Risk: **${action.risk}**. ${action.review.title}`);
  lines.push('', '## Why it waits', '', ...quoted(proposal.reasoning || 'No reason was given.'));
  lines.push('', "## The run's inputs", '');
  const inputs = Object.entries(run?.inputs ?? {});
  if (!run) lines.push('The run could not be read.');
  else if (inputs.length === 0) lines.push('None.');
  for (const [name, value] of inputs) {
    const text = String(value);
    const shown =
      text.length > CONTEXT_VALUE_LIMIT
        ? `${text.slice(0, CONTEXT_VALUE_LIMIT)}\n[... ${text.length - CONTEXT_VALUE_LIMIT} more characters]`
        : text;
    lines.push(`**${name}**`, '', ...quoted(shown), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Text as a Markdown block quote, line by line (the editor shows it as text; a preview sanitises it). */
function quoted(text: string): string[] {
  return text.split(/\r?\n/).map((line) => `> ${line}`.trimEnd());
}
