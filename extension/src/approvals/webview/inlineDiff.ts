/**
 * The selected file proposal's diff in the approval inbox (browser, DOM only): asked of the host
 * when a proposal is first shown, kept per proposal and file versions (inboxDiffKey), drawn per
 * file as a collapsible unified diff. Added and removed lines say so in signs and in words for a
 * screen reader, not only in colour. Every piece of a proposal goes in as text, never as HTML:
 * the agent wrote it, and it is untrusted.
 */
import type { Proposal } from '@keel/schemas';
import type {
  HostToInboxMessage,
  InboxDiffHunk,
  InboxDiffLine,
  InboxFileDiff,
  InboxProposalDiff,
} from '@keel/schemas/src/webviews';
import { button, element } from '../../webviewHost/webview/dom';
import { CHANGE_ICONS, CHANGE_LABELS } from '../approvalList';
import { inboxDiffKey } from '../inboxModel';

type DiffAnswer = Extract<HostToInboxMessage, { type: 'diff' | 'diffError' }>;

/** Answers kept: enough for going back and forth along a long list. */
const KEPT = 50;

const LINE_WORDS: Record<InboxDiffLine['kind'], string> = {
  added: 'Added',
  removed: 'Removed',
  context: 'Unchanged',
};
const LINE_SIGNS: Record<InboxDiffLine['kind'], string> = { added: '+', removed: '-', context: ' ' };

export class InlineDiffs {
  private readonly answers = new Map<string, DiffAnswer>();
  private readonly asked = new Set<string>();
  /** Files the operator folded, by key and path: kept when the inbox is drawn again. */
  private readonly folded = new Set<string>();

  constructor(
    private readonly ask: (id: string) => void,
    private readonly openFull: (id: string) => void,
  ) {}

  /** Keeps the host's answer; true when it is for `proposal` as the inbox shows it now. */
  receive(answer: DiffAnswer, proposal: Proposal | undefined): boolean {
    this.answers.delete(answer.key);
    this.answers.set(answer.key, answer);
    // A failed answer may be asked again the next time the proposal is shown.
    if (answer.type === 'diffError') this.asked.delete(answer.key);
    for (const key of this.answers.keys()) {
      if (this.answers.size <= KEPT) break;
      this.answers.delete(key);
      this.asked.delete(key);
    }
    return proposal !== undefined && inboxDiffKey(proposal) === answer.key;
  }

  /** What the proposal changes: its diff when known, else its files while the diff is asked for. */
  view(proposal: Proposal): HTMLElement {
    const key = inboxDiffKey(proposal);
    const box = element('div', 'inline-diff');
    box.dataset.key = key;
    const answer = this.answers.get(key);
    if (answer?.type === 'diff') {
      box.append(...this.files(proposal, key, answer.diff));
      return box;
    }
    if (answer === undefined && !this.asked.has(key)) {
      this.asked.add(key);
      this.ask(proposal.id);
    }
    const files = element('ul', 'files');
    for (const change of proposal.changes) {
      files.append(
        element('li', '', `${CHANGE_ICONS[change.action]} ${CHANGE_LABELS[change.action]} ${change.path}`),
      );
    }
    const state =
      answer?.type === 'diffError'
        ? element('p', 'error', `The diff could not be shown: ${answer.message}`)
        : element('p', 'muted', 'Computing the diff…');
    state.setAttribute('role', 'status');
    box.append(files, state);
    return box;
  }

  private files(proposal: Proposal, key: string, diff: InboxProposalDiff): HTMLElement[] {
    const note = element('p', 'muted', 'From each file as it is now to what the agent proposes.');
    return [note, ...diff.files.map((file) => this.file(proposal.id, `${key}\n${file.path}`, file))];
  }

  private file(id: string, foldKey: string, file: InboxFileDiff): HTMLElement {
    const details = element('details', 'file-diff');
    details.dataset.path = file.path;
    details.open = !this.folded.has(foldKey);
    details.addEventListener('toggle', () => {
      if (details.open) this.folded.delete(foldKey);
      else this.folded.add(foldKey);
    });
    const summary = element('summary', 'file-diff-summary');
    const sign = element('span', 'change-sign', CHANGE_ICONS[file.action]);
    sign.setAttribute('aria-hidden', 'true');
    summary.append(
      sign,
      element('span', 'file-diff-path', ` ${CHANGE_LABELS[file.action]} ${file.path}`),
      element('span', 'file-diff-counts muted', counts(file)),
    );
    if (file.edited) summary.append(element('span', 'file-diff-edited', ' · with your edits'));
    details.append(summary, ...this.body(id, file));
    return details;
  }

  private body(id: string, file: InboxFileDiff): HTMLElement[] {
    const said = SAID[file.kind];
    if (said) return [element('p', 'muted', said(file))];
    const body = element('div', 'diff-body');
    body.setAttribute('role', 'group');
    body.setAttribute('aria-label', `Changes to ${file.path}`);
    for (const hunk of file.hunks) body.append(hunkHeader(hunk), ...hunk.lines.map(diffLine));
    if (file.omitted === 0) return [body];
    const more = element(
      'p',
      'diff-more',
      `${file.omitted} more ${file.omitted === 1 ? 'line' : 'lines'} — `,
    );
    more.append(
      button('open the full diff (o)', `Open the full diff of ${file.path} in an editor`, () =>
        this.openFull(id),
      ),
    );
    return file.hunks.length > 0 ? [body, more] : [more];
  }
}

/** What stands for the lines of a file that has none to show. */
const SAID: Partial<Record<InboxFileDiff['kind'], (file: InboxFileDiff) => string>> = {
  binary: () => 'Binary, or not UTF-8 text: not shown here. Open the diff (o) to look at it.',
  identical: (file) =>
    file.action === 'delete'
      ? 'The file is already gone.'
      : 'The file already reads as proposed: approving changes nothing in it.',
  tooLarge: () => 'Too different to compare here. Open the full diff (o).',
};

function counts(file: InboxFileDiff): string {
  if (file.kind !== 'text') return '';
  return ` +${file.added} −${file.removed}`;
}

function hunkHeader(hunk: InboxDiffHunk): HTMLElement {
  const header = element('div', 'hunk-header');
  // The @@ line for the eye; words for a screen reader (a plain div's label is not read).
  const marks = element(
    'span',
    '',
    `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`,
  );
  marks.setAttribute('aria-hidden', 'true');
  header.append(
    marks,
    element(
      'span',
      'visually-hidden',
      `Lines ${range(hunk.oldStart, hunk.oldLines)} now, ${range(hunk.newStart, hunk.newLines)} proposed`,
    ),
  );
  return header;
}

function range(start: number, count: number): string {
  if (count === 0) return 'none';
  return count === 1 ? `${start}` : `${start} to ${start + count - 1}`;
}

function diffLine(line: InboxDiffLine): HTMLElement {
  const row = element('div', `diff-line ${line.kind}`);
  const gutter = (n: number | null, side: string): HTMLElement => {
    const cell = element('span', `line-number ${side}`, n === null ? '' : String(n));
    cell.setAttribute('aria-hidden', 'true');
    return cell;
  };
  const sign = element('span', 'diff-sign', LINE_SIGNS[line.kind]);
  sign.setAttribute('aria-hidden', 'true');
  const at = line.newLine ?? line.oldLine;
  row.append(
    gutter(line.oldLine, 'old'),
    gutter(line.newLine, 'new'),
    sign,
    element('span', 'visually-hidden', `${LINE_WORDS[line.kind]}, line ${at}: `),
    element('span', 'diff-text', line.text),
  );
  if (line.noNewline) row.append(element('span', 'no-newline muted', ' (no newline at end of file)'));
  return row;
}
