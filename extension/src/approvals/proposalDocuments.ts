/**
 * The two sides of a proposal's diff as read-only virtual documents (`keel-proposal:` URIs): the
 * file as the daemon sees it now (empty for a file to be created) and the agent's proposed content;
 * and for an action proposal its context (why it waits, the run's inputs), shown beside its review.
 * Both come from `keel/approvals/get` and are refreshed when the proposal changes (a stale proposal
 * shows the file as it is now, so the operator decides on the new diff).
 */
import * as vscode from 'vscode';
import { ApprovalGetRequest, RunGetRequest, type Proposal, type ResultOf } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import {
  actionContext,
  parseProposalDocumentPath,
  proposalDocumentPath,
  type ProposalSide,
} from './approvalList';
import type { ApprovalsStore } from './approvalsStore';
import { sidesOf } from './proposalDiff';

export const PROPOSAL_SCHEME = 'keel-proposal';

type ProposalDetails = ResultOf<typeof ApprovalGetRequest>;

export class ProposalDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** The last answer per proposal, shared by both sides of its diffs; dropped when it changes. */
  private readonly details = new Map<string, Promise<ProposalDetails>>();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly client: DaemonClient,
    store: ApprovalsStore,
  ) {
    this.disposables = [
      vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this),
      store.onDidChangeProposal((proposal) => this.refresh(proposal)),
      this.changed,
    ];
  }

  static uri(id: string, side: ProposalSide, path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: proposalDocumentPath(id, side, path) });
  }

  /** The proposal and each of its files as they are now, asked once per change of the proposal. */
  get(id: string): Promise<ProposalDetails> {
    let details = this.details.get(id);
    if (!details) {
      details = this.client.request(ApprovalGetRequest, { id });
      this.details.set(id, details);
      // A failed answer is not kept: the next look asks again.
      details.catch(() => this.details.delete(id));
    }
    return details;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const parsed = parseProposalDocumentPath(uri.path);
    if (!parsed) return '';
    const { proposal, current } = await this.get(parsed.id);
    if (parsed.side === 'context') {
      const run = await this.client.request(RunGetRequest, { id: proposal.runId }).then(
        (trace) => trace.run,
        () => null,
      );
      return actionContext(proposal, run);
    }
    const sides = sidesOf(proposal, current, parsed.path);
    return parsed.side === 'current' ? sides.current : sides.proposed;
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }

  /** The proposal changed (made stale, or decided): its open documents show it as it is now. */
  private refresh(proposal: Proposal): void {
    this.details.delete(proposal.id);
    for (const document of vscode.workspace.textDocuments) {
      if (document.uri.scheme !== PROPOSAL_SCHEME) continue;
      if (parseProposalDocumentPath(document.uri.path)?.id === proposal.id) this.changed.fire(document.uri);
    }
  }
}
