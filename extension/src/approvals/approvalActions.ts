/**
 * What the operator does with a proposal, from the sidebar, the diff editor's title or the palette:
 * open its diff, make the proposed side editable, approve it (with their edits, if any) or reject
 * it with a reason. After a decision its editors close and the operator hears the result. An
 * action proposal (an email to send) has no diff: it opens as its review document in an editable
 * copy, and is never approved before that copy was opened.
 */
import { lstat, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import * as vscode from 'vscode';
import {
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  type ActionProposal,
  type FileChange,
  type ParamsOf,
  type Proposal,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import {
  ACTION_CONTEXT_FILE,
  decisionMessage,
  describeApproval,
  diffTitle,
  editCopyPath,
  editedFiles,
  editedReview,
  isOpen,
  parseEditCopyPath,
  parseProposalDocumentPath,
  reviewFileName,
} from './approvalList';
import type { ApprovalsStore } from './approvalsStore';
import { PROPOSAL_SCHEME, ProposalDocuments } from './proposalDocuments';

export interface ApprovalsContext {
  readonly folder: string;
  readonly client: DaemonClient;
  readonly store: ApprovalsStore;
  readonly documents: ProposalDocuments;
}

/** The context key the diff editor's title buttons show by: `proposed`, `editing`, or unset. */
const EDITOR_CONTEXT_KEY = 'keel.proposalEditor';

/** Shows one diff per changed file: the file as it is now on the left, the proposal on the right. */
export async function openProposal(context: ApprovalsContext, id: string): Promise<void> {
  const proposal = await openProposalOrSay(context, id);
  if (!proposal) return;
  if (proposal.action) return showActionReview(context.folder, proposal.id, proposal.action);
  for (const change of proposal.changes) {
    const copy = editCopyUri(context.folder, id, change.path);
    const editing = change.action !== 'delete' && (await exists(copy));
    await showDiff(proposal, change, editing ? copy : ProposalDocuments.uri(id, 'proposed', change.path));
  }
}

/**
 * Makes the proposed side editable: each proposed file is copied to `.keel/edits/<id>/` (git-ignored,
 * not indexed) and shown as the diff's right side. An edit already under way is kept.
 */
export async function editProposal(context: ApprovalsContext, id: string): Promise<void> {
  const proposal = await openProposalOrSay(context, id);
  if (!proposal) return;
  if (proposal.action) return showActionReview(context.folder, proposal.id, proposal.action);
  const editable = proposal.changes.filter((c) => c.action !== 'delete');
  if (editable.length === 0) {
    void vscode.window.showInformationMessage(
      'Keel: this proposal only deletes files; there is nothing to edit.',
    );
    return;
  }
  await closeEditors(context.folder, id, (uri) => uri.scheme === PROPOSAL_SCHEME);
  for (const change of editable) {
    const copy = editCopyUri(context.folder, id, change.path);
    await mkdir(dirname(copy.fsPath), { recursive: true });
    // `wx`: an edit already under way is the operator's work, never overwritten.
    await writeFile(copy.fsPath, change.content ?? '', { flag: 'wx' }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
    await showDiff(proposal, change, copy);
  }
}

/**
 * Applies the proposal, with the operator's edits when they changed the proposed text. A stale
 * proposal approved from outside its diff is shown first: the operator decides on the new diff.
 */
export async function approveProposal(
  context: ApprovalsContext,
  id: string,
  seenDiff: boolean,
): Promise<void> {
  const proposal = await openProposalOrSay(context, id);
  if (!proposal) return;
  if (proposal.status === 'stale' && !seenDiff) {
    const choice = await vscode.window.showWarningMessage(
      `${proposal.staleFiles.join(', ') || 'A file'} changed after ${proposal.runbook} proposed this. Look at the new diff before approving.`,
      { modal: true },
      'Open Diff',
      'Approve Anyway',
    );
    if (choice === 'Open Diff') await openProposal(context, id);
    if (choice !== 'Approve Anyway') return;
  }
  let params: ParamsOf<typeof ApprovalApproveRequest>;
  if (proposal.action) {
    const copy = reviewCopyUri(context.folder, proposal.id, proposal.action);
    // Never sent unseen: the first Approve shows what would be sent; the next one decides.
    if (!(await exists(copy))) {
      await showActionReview(context.folder, proposal.id, proposal.action);
      void vscode.window.showInformationMessage(
        `Keel: this is what ${proposal.action.connector}.${proposal.action.action} would do. ` +
          "Read it, edit it if needed, then Approve from the editor's title or the sidebar.",
      );
      return;
    }
    const review = editedReview(proposal, await readCopy(copy));
    params = { id, ...(review !== undefined ? { editedReview: review } : {}) };
  } else {
    const edited = editedFiles(proposal, await readEditCopies(context.folder, proposal));
    params = { id, ...(edited ? { edited } : {}) };
  }
  const decided = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Keel: applying “${proposal.summary}”` },
    () => context.client.request(ApprovalApproveRequest, params),
  );
  await decide(context, decided);
}

/** Asks why (a reason is required: the run acts on it), then rejects. */
export async function rejectProposal(context: ApprovalsContext, id: string): Promise<void> {
  const proposal = await openProposalOrSay(context, id);
  if (!proposal) return;
  const reason = await vscode.window.showInputBox({
    title: `Reject: ${proposal.summary}`,
    prompt: `Why? The run of ${proposal.runbook} is told, so the agent can act on it.`,
    placeHolder: 'For example: wrong contact, Lena left Acme in October',
    ignoreFocusOut: true,
    validateInput: (text) =>
      text.trim() === ''
        ? 'Say why, so the agent can act on it.'
        : text.length > 4_000
          ? 'Keep it under 4,000 characters.'
          : null,
  });
  if (reason === undefined) return;
  await decide(context, await context.client.request(ApprovalRejectRequest, { id, reason: reason.trim() }));
}

/**
 * The proposal an action is about: an id (the sidebar, a link), a document of its diff (the editor
 * title), the active diff, or the operator's pick among those waiting. `fromDiff` says whether the
 * operator is looking at its diff.
 */
export async function resolveProposalId(
  context: ApprovalsContext,
  target: unknown,
): Promise<{ id: string; fromDiff: boolean } | undefined> {
  if (typeof target === 'string' && target !== '') return { id: target, fromDiff: false };
  const fromUri = target instanceof vscode.Uri ? proposalIdOf(context.folder, target) : undefined;
  if (fromUri) return { id: fromUri, fromDiff: true };
  const active = activeProposal(context.folder);
  if (active) return { id: active.id, fromDiff: true };
  const { approvals } = context.store.approvals;
  if (approvals.length === 0) {
    void vscode.window.showInformationMessage('Keel: nothing is waiting for your approval.');
    return undefined;
  }
  const chosen = await vscode.window.showQuickPick(
    approvals.map((p) => ({
      label: p.summary,
      description: `${p.runbook}${p.status === 'stale' ? ' · stale' : ''}`,
      detail: describeApproval(p),
      id: p.id,
    })),
    { title: 'Keel: Approvals', placeHolder: 'Which proposal?', matchOnDescription: true },
  );
  return chosen && { id: chosen.id, fromDiff: false };
}

/**
 * Keeps the `keel.proposalEditor` context key in step with the active editor, so the diff's title
 * shows Approve, Edit and Reject; and closes a proposal's editors once it is decided (here, from
 * the CLI, or by another window).
 */
export function trackProposalEditors(context: ApprovalsContext): vscode.Disposable {
  const update = (): void => {
    const active = activeProposal(context.folder);
    void vscode.commands.executeCommand('setContext', EDITOR_CONTEXT_KEY, active?.kind);
  };
  update();
  return vscode.Disposable.from(
    vscode.window.tabGroups.onDidChangeTabs(update),
    vscode.window.tabGroups.onDidChangeTabGroups(update),
    context.store.onDidChangeProposal((proposal) => {
      // A failure here is reported by the decision that awaits the same close, if it was made here.
      if (!isOpen(proposal)) closeDecided(context.folder, proposal.id).catch(() => undefined);
    }),
  );
}

async function decide(context: ApprovalsContext, decided: Proposal): Promise<void> {
  context.store.apply(decided);
  await closeDecided(context.folder, decided.id);
  const [single] = decided.changes.length === 1 ? decided.changes : [];
  const openable = decided.decision?.kind !== 'rejected' && single && single.action !== 'delete';
  const choice = await vscode.window.showInformationMessage(
    decisionMessage(decided),
    ...(openable ? ['Open File'] : []),
  );
  if (choice === 'Open File' && single) {
    await vscode.window.showTextDocument(vscode.Uri.file(join(context.folder, ...single.path.split('/'))));
  }
}

/** The proposal if it still waits for a decision; else the operator is told and undefined returned. */
async function openProposalOrSay(context: ApprovalsContext, id: string): Promise<Proposal | undefined> {
  const { proposal } = await context.documents.get(id);
  if (isOpen(proposal)) return proposal;
  const decision = proposal.decision
    ? decisionMessage(proposal)
    : `Keel: this proposal is ${proposal.status}.`;
  void vscode.window.showInformationMessage(`${decision} It was already decided.`);
  return undefined;
}

/**
 * Opens an action's review document (an email's headers and body) as an editable copy under
 * `.keel/edits/<id>/`, like a file proposal's edit: what the operator changes there is what
 * Approve sends as the edited review. An edit already under way is kept.
 */
/**
 * An action's review document in an editable copy, and beside it (read-only) its context: why it
 * waits and the inputs of the run (the mail being answered). The review keeps the focus.
 */
async function showActionReview(folder: string, id: string, action: ActionProposal): Promise<void> {
  const copy = reviewCopyUri(folder, id, action);
  await mkdir(dirname(copy.fsPath), { recursive: true });
  await writeFile(copy.fsPath, action.review.text, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await vscode.window.showTextDocument(copy, { preview: false });
  await vscode.window.showTextDocument(ProposalDocuments.uri(id, 'context', ACTION_CONTEXT_FILE), {
    viewColumn: vscode.ViewColumn.Beside,
    preview: true,
    preserveFocus: true,
  });
}

function reviewCopyUri(folder: string, id: string, action: ActionProposal): vscode.Uri {
  return editCopyUri(folder, id, reviewFileName(action));
}

async function showDiff(proposal: Proposal, change: FileChange, right: vscode.Uri): Promise<void> {
  const left = ProposalDocuments.uri(proposal.id, 'current', change.path);
  const editing = right.scheme === 'file';
  await vscode.commands.executeCommand('vscode.diff', left, right, diffTitle(proposal, change, editing), {
    preview: false,
  });
}

/** The text of an edit copy, unsaved edits included (saved, so that closing its editor asks nothing). */
async function readCopy(copy: vscode.Uri): Promise<string> {
  const document = await vscode.workspace.openTextDocument(copy);
  if (document.isDirty) await document.save();
  return document.getText();
}

/** The operator's edited text of each proposed file they opened for editing (unsaved edits included). */
function readEditCopies(folder: string, proposal: Proposal): Promise<Record<string, string>> {
  return editCopies(folder, proposal, readCopy);
}

/**
 * The operator's saved edit of each proposed file they opened for editing, as approving would
 * apply it (unsaved edits are saved then), read from disk without touching their editors.
 */
export function savedEdits(folder: string, proposal: Proposal): Promise<Record<string, string>> {
  return editCopies(folder, proposal, (copy) => readFile(copy.fsPath, 'utf8'));
}

/** Each edit copy of the proposal's proposed files, read by `read`, by path. */
async function editCopies(
  folder: string,
  proposal: Proposal,
  read: (copy: vscode.Uri) => Promise<string>,
): Promise<Record<string, string>> {
  const texts: Record<string, string> = {};
  for (const change of proposal.changes) {
    if (change.action === 'delete') continue;
    const copy = editCopyUri(folder, proposal.id, change.path);
    // Only a plain file is an edit: never a link planted in a cloned workspace's .keel/edits/.
    if (!(await lstat(copy.fsPath).catch(() => null))?.isFile()) continue;
    texts[change.path] = await read(copy);
  }
  return texts;
}

/** The proposal an edit copy belongs to, if the document is one. */
export function editedProposalId(folder: string, uri: vscode.Uri): string | undefined {
  return uri.scheme === 'file' ? proposalIdOf(folder, uri) : undefined;
}

/** Decided proposals whose editors are being closed: the decision's answer and its notification both ask. */
const closing = new Map<string, Promise<void>>();

/** Closes the decided proposal's diffs and removes the operator's copies of it, once. */
function closeDecided(folder: string, id: string): Promise<void> {
  let done = closing.get(id);
  if (!done) {
    done = (async () => {
      for (const document of vscode.workspace.textDocuments) {
        if (document.isDirty && proposalIdOf(folder, document.uri) === id) await document.save();
      }
      await closeEditors(folder, id, () => true);
      await rm(join(folder, ...editCopyPath(id, '').split('/')), { recursive: true, force: true });
    })();
    closing.set(id, done);
  }
  return done;
}

async function closeEditors(folder: string, id: string, which: (uri: vscode.Uri) => boolean): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tabUris(tab).some((uri) => proposalIdOf(folder, uri) === id && which(uri)));
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
}

function tabUris(tab: vscode.Tab): vscode.Uri[] {
  const input = tab.input;
  if (input instanceof vscode.TabInputTextDiff) return [input.modified, input.original];
  if (input instanceof vscode.TabInputText) return [input.uri];
  return [];
}

/** The proposal a diff's document belongs to: a `keel-proposal:` side or an edit copy. */
function proposalIdOf(folder: string, uri: vscode.Uri): string | undefined {
  if (uri.scheme === PROPOSAL_SCHEME) return parseProposalDocumentPath(uri.path)?.id;
  if (uri.scheme !== 'file') return undefined;
  const inside = relative(folder, uri.fsPath).split(sep).join('/');
  return parseEditCopyPath(inside)?.id;
}

function activeProposal(folder: string): { id: string; kind: 'proposed' | 'editing' } | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri =
    input instanceof vscode.TabInputTextDiff
      ? input.modified
      : input instanceof vscode.TabInputText
        ? input.uri
        : undefined;
  const id = uri && proposalIdOf(folder, uri);
  if (!uri || !id) return undefined;
  return { id, kind: uri.scheme === PROPOSAL_SCHEME ? 'proposed' : 'editing' };
}

function editCopyUri(folder: string, id: string, path: string): vscode.Uri {
  return vscode.Uri.file(join(folder, ...editCopyPath(id, path).split('/')));
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  return stat(uri.fsPath).then(
    () => true,
    () => false,
  );
}
