/**
 * The sidebar's Approvals section (browser code): every proposal waiting for the operator, with
 * its files and Open diff / Approve / Edit / Reject. Built once; its list re-renders in place as the
 * extension sends new lists, and keyboard focus stays on the same control, or moves to the next
 * proposal when the one it was on has been decided.
 */
import type { Proposal } from '@keel/schemas';
import type { WebviewToHostMessage } from '@keel/schemas/src/webviews';
import {
  actionLine,
  CHANGE_ICONS,
  CHANGE_LABELS,
  describeApproval,
  staleNote,
} from '../../approvals/approvalList';
import { listElement, note, section, span } from './runsSections';

type Post = (message: WebviewToHostMessage) => void;

type ActionType = 'openProposal' | 'approveProposal' | 'editProposal' | 'rejectProposal';

const ACTIONS: { type: ActionType; label: string; verb: string; className: string }[] = [
  { type: 'openProposal', label: 'Open diff', verb: 'Open the diff of', className: 'secondary open-diff' },
  { type: 'approveProposal', label: 'Approve', verb: 'Approve', className: 'primary approve' },
  { type: 'editProposal', label: 'Edit', verb: 'Edit', className: 'secondary edit' },
  { type: 'rejectProposal', label: 'Reject', verb: 'Reject', className: 'secondary reject' },
];

export class ApprovalsSection {
  readonly element = section('approvals', 'Approvals');
  private readonly count = span('count', '');
  private readonly list = listElement('ul', 'approval-list', 'Proposals waiting for your approval');
  private readonly note = note();
  /** Announces proposals that arrive, for screen readers; the list itself is not a live region. */
  private readonly announcer = document.createElement('div');
  private known: Set<string> | null = null;
  private readonly inboxButton = document.createElement('button');

  constructor(private readonly post: Post) {
    this.element.querySelector('h2')?.append(this.count);
    this.inboxButton.type = 'button';
    this.inboxButton.className = 'secondary open-inbox';
    this.inboxButton.textContent = 'Open inbox';
    this.inboxButton.setAttribute('aria-label', 'Open the approval inbox: every proposal with its context');
    this.inboxButton.addEventListener('click', () => this.post({ type: 'openApprovalInbox' }));
    this.inboxButton.hidden = true;
    this.announcer.className = 'visually-hidden';
    this.announcer.setAttribute('role', 'status');
    this.list.setAttribute('aria-live', 'off');
    this.list.tabIndex = -1;
    this.element.append(this.note, this.inboxButton, this.list, this.announcer);
  }

  update(approvals: Proposal[], error: string | null): void {
    const active = document.activeElement as HTMLElement | null;
    const focusKey = active && this.element.contains(active) ? active.dataset.focusKey : undefined;
    const focusIndex = focusKey ? this.itemIndexOf(active!) : -1;
    this.count.textContent = approvals.length > 0 ? ` (${approvals.length})` : '';
    this.note.textContent = error
      ? `Could not list the approvals: ${error}`
      : approvals.length === 0
        ? 'Nothing is waiting for your approval.'
        : '';
    this.note.hidden = this.note.textContent === '';
    this.inboxButton.hidden = approvals.length === 0;
    this.list.replaceChildren(...approvals.map((proposal) => this.item(proposal)));
    if (focusKey) this.restoreFocus(focusKey, focusIndex);
    const arrived = this.known ? approvals.filter((p) => !this.known!.has(p.id)) : [];
    if (arrived.length > 0) {
      this.announcer.textContent = arrived.map((p) => `Waiting for your approval: ${p.summary}.`).join(' ');
    }
    this.known = new Set(approvals.map((p) => p.id));
  }

  private item(proposal: Proposal): HTMLElement {
    const item = document.createElement('li');
    item.className = 'approval';
    item.dataset.proposalId = proposal.id;
    item.dataset.status = proposal.status;
    item.setAttribute('aria-label', describeApproval(proposal));
    const head = document.createElement('div');
    head.className = 'approval-head';
    head.append(span('summary', proposal.summary));
    if (proposal.status === 'stale') head.append(span('tag stale', 'stale'));
    if (proposal.protected) head.append(span('tag protected', 'protected'));
    const meta = document.createElement('div');
    meta.className = 'approval-meta';
    const run = document.createElement('button');
    run.type = 'button';
    run.className = 'link run-link';
    run.textContent = 'run trace';
    run.dataset.focusKey = `run:${proposal.id}`;
    run.setAttribute('aria-label', `Open the trace of the ${proposal.runbook} run that proposed this`);
    run.addEventListener('click', () => this.post({ type: 'showRunTrace', id: proposal.runId }));
    meta.append(`${proposal.runbook} · step ${proposal.stepId} · `, run);
    const files = document.createElement('ul');
    files.className = 'approval-files';
    files.setAttribute('aria-label', 'Files');
    for (const change of proposal.changes) {
      const file = document.createElement('li');
      file.dataset.action = change.action;
      const icon = span('change-icon', CHANGE_ICONS[change.action]);
      icon.setAttribute('aria-hidden', 'true');
      file.append(icon, span('change-word', CHANGE_LABELS[change.action]), span('path', change.path));
      files.append(file);
    }
    item.append(head, meta, files);
    // An action proposal has no files: the row says which action, and why it asks.
    const actionText = actionLine(proposal);
    if (actionText) item.append(span('approval-action', actionText));
    const stale = staleNote(proposal);
    if (stale) item.append(span('stale-note', stale));
    const actions = document.createElement('div');
    actions.className = 'approval-actions';
    for (const action of ACTIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = action.className;
      // An action proposal opens as its review document (an email), not as a diff.
      const opensReview = actionText !== null && action.type === 'openProposal';
      b.textContent = opensReview ? 'Open' : action.label;
      b.dataset.focusKey = `${action.type}:${proposal.id}`;
      b.setAttribute('aria-label', `${opensReview ? 'Open' : action.verb} “${proposal.summary}”`);
      b.addEventListener('click', () => this.post({ type: action.type, id: proposal.id }));
      actions.append(b);
    }
    item.append(actions);
    return item;
  }

  private itemIndexOf(element: HTMLElement): number {
    const item = element.closest('li.approval');
    return item ? [...this.list.children].indexOf(item) : -1;
  }

  /** The same control if its proposal is still listed; else the next proposal's first button. */
  private restoreFocus(key: string, index: number): void {
    const same = this.list.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
    const items = [...this.list.querySelectorAll<HTMLElement>('li.approval')];
    const next =
      items[Math.min(Math.max(index, 0), items.length - 1)]?.querySelector<HTMLElement>('button.open-diff');
    (same ?? next ?? this.list).focus({ preventScroll: true });
  }
}
