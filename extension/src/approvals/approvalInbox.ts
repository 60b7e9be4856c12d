/**
 * The approval inbox: one webview panel listing every proposal waiting for the operator, across
 * agents, riskiest and oldest first, each with its reasoning, the rule that made it wait, the run's
 * inputs, what the run spent so far and the notes it read. It is sent again (debounced) whenever a
 * proposal is made, goes stale or is decided. The operator's keys and clicks, validated here, go to
 * the same commands as the sidebar's and the diff editor's buttons; a batch approval is checked
 * again here, item by item, against the batch rule and the proposal as it stands.
 */
import * as vscode from 'vscode';
import { RunGetRequest, type RunTrace } from '@keel/schemas';
import { InboxToHostMessage, type HostToInboxMessage } from '@keel/schemas/src/webviews';
import { openNoteAt } from '../runs/openNote';
import { WebviewViewHost, type ActionOf } from '../webviewHost/webviewViewHost';
import { approveProposal, editedProposalId, savedEdits, type ApprovalsContext } from './approvalActions';
import { approvableBatch, inboxDiffKey, inboxItem, sortInbox } from './inboxModel';
import { proposalDiff } from './proposalDiff';
import { executeKeelCommand } from '../executeKeelCommand';

/** Bursts of changes (a run proposing several notes) are sent once, at most this often. */
const REFRESH_MS = 200;

export class ApprovalInbox implements vscode.Disposable {
  static readonly viewType = 'keel.approvalInbox';
  private panel: vscode.WebviewPanel | null = null;
  private readonly host: WebviewViewHost<InboxToHostMessage, HostToInboxMessage>;
  private last: HostToInboxMessage | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Counts refreshes: one that finishes after a later one started sends nothing (it is older). */
  private generation = 0;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    extensionUri: vscode.Uri,
    private readonly approvals: ApprovalsContext,
    output: vscode.LogOutputChannel,
  ) {
    this.host = new WebviewViewHost({
      extensionUri,
      name: 'the approval inbox',
      page: {
        script: 'inbox.js',
        style: 'inbox.css',
        title: 'Approvals',
        main: '<main id="inbox" aria-busy="true"><p class="muted">Loading…</p></main>',
      },
      incoming: InboxToHostMessage,
      catchUp: () => (this.last ? [this.last] : []),
      handle: (message) => this.act(message),
      output,
      reopen: (column) => this.show(column),
      onClosed: () => {
        this.panel = null;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
      },
    });
    this.subscriptions = [
      approvals.store.onDidChange(() => this.refreshSoon()),
      // An edit of the proposal, saved: the inline diff shows what approving would apply now.
      vscode.workspace.onDidSaveTextDocument((document) => {
        const id = editedProposalId(approvals.folder, document.uri);
        if (id !== undefined && this.panel) void this.sendDiff(id);
      }),
    ];
  }

  /** Opens the inbox (in the active column unless told another), or brings it to the front. */
  async show(column?: vscode.ViewColumn): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    this.panel = this.host.openPanel(
      ApprovalInbox.viewType,
      'Approvals',
      { retainContextWhenHidden: true },
      column,
    );
    await this.refresh();
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.host.dispose();
  }

  private refreshSoon(): void {
    if (!this.panel || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_MS);
  }

  /** Lists what waits, with each proposing run's trace read once. */
  private async refresh(): Promise<void> {
    const generation = ++this.generation;
    const { approvals, error } = this.approvals.store.approvals;
    if (error !== null && approvals.length === 0) {
      this.last = { type: 'error', message: `The proposals could not be listed: ${error}` };
    } else {
      const traces = new Map<string, Promise<RunTrace | null>>();
      const traceOf = (runId: string): Promise<RunTrace | null> => {
        let trace = traces.get(runId);
        if (!trace) {
          trace = this.approvals.client.request(RunGetRequest, { id: runId }).catch(() => null);
          traces.set(runId, trace);
        }
        return trace;
      };
      const items = await Promise.all(
        approvals.map(async (proposal) => inboxItem(proposal, await traceOf(proposal.runId))),
      );
      if (generation !== this.generation) return;
      this.last = { type: 'items', items: sortInbox(items) };
    }
    this.host.post(this.last);
  }

  private async act(message: ActionOf<InboxToHostMessage>): Promise<void> {
    switch (message.type) {
      case 'open':
        await executeKeelCommand('keel.openProposal', message.id);
        return;
      case 'approve':
        await executeKeelCommand('keel.approveProposal', message.id);
        return;
      case 'edit':
        await executeKeelCommand('keel.editProposal', message.id);
        return;
      case 'reject':
        await executeKeelCommand('keel.rejectProposal', message.id);
        return;
      case 'approveBatch':
        return this.approveBatch(message.ids);
      case 'diff':
        return this.sendDiff(message.id);
      case 'openRun':
        await executeKeelCommand('keel.showRunTrace', message.id);
        return;
      case 'openNote':
        return openNoteAt(this.approvals.folder, message.path, message.line);
    }
  }

  /**
   * The selected proposal's diff, computed when the operator selects it (never for the whole list;
   * the webview asks once per proposal version) from the two sides the diff editor shows, or the
   * operator's saved edit of a file where they made one, and again when they save an edit.
   */
  private async sendDiff(id: string): Promise<void> {
    const known = this.approvals.store.proposal(id);
    if (!known || known.action) return;
    const key = inboxDiffKey(known);
    try {
      const { proposal, current } = await this.approvals.documents.get(id);
      const edits = await savedEdits(this.approvals.folder, proposal);
      this.host.post({ type: 'diff', key, diff: proposalDiff(proposal, current, { edits }) });
    } catch (error) {
      this.host.post({ type: 'diffError', key, message: (error as Error).message });
    }
  }

  /** Approves the reviewed low-risk proposals after one confirmation; anything else is left waiting. */
  private async approveBatch(ids: readonly string[]): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      await executeKeelCommand('keel.approveProposal', ids[0]);
      return;
    }
    const { approve: proposals, left } = approvableBatch(ids, (id) => this.approvals.store.proposal(id));
    if (proposals.length === 0) {
      void vscode.window.showWarningMessage(
        'Keel: none of these can be approved together any more; decide them one by one.',
      );
      return;
    }
    const list = proposals.map((p) => `• ${p.summary} (${p.runbook})`).join('\n');
    const choice = await vscode.window.showWarningMessage(
      `Approve ${proposals.length} memory ${proposals.length === 1 ? 'note' : 'notes'}?`,
      {
        modal: true,
        detail: `${list}${left > 0 ? `\n\n${left} other(s) changed meanwhile or are not low-risk; they keep waiting.` : ''}`,
      },
      'Approve All',
    );
    if (choice !== 'Approve All') return;
    for (const proposal of proposals) await approveProposal(this.approvals, proposal.id, true);
  }
}
