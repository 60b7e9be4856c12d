/**
 * The extension's copy of the proposals waiting for the operator. Lists them when the daemon
 * (re)starts, then keeps them current from `keel/approvals/changed`: no polling.
 */
import * as vscode from 'vscode';
import { ApprovalsChangedNotification, ApprovalsListRequest, type Proposal } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { isOpen, mergeApproval, sortApprovals } from './approvalList';

export class ApprovalsStore implements vscode.Disposable {
  private list: Proposal[] = [];
  private error: string | null = null;
  /** Proposals decided while this window watched: a late report of them as open is old news. */
  private readonly decided = new Set<string>();
  /** Proposals that changed while a list request was under way: applied on top of its answer. */
  private changedWhileListing: Proposal[] | null = null;
  private wasRunning = false;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly proposalChanged = new vscode.EventEmitter<Proposal>();
  private readonly disposables: vscode.Disposable[] = [];
  /** The list changed. */
  readonly onDidChange = this.changed.event;
  /** One proposal changed: made, stale, or decided. */
  readonly onDidChangeProposal = this.proposalChanged.event;

  constructor(private readonly client: DaemonClient) {
    this.disposables.push(
      client.onNotification(ApprovalsChangedNotification, ({ proposal }) => this.apply(proposal)),
      client.onDidChange((snapshot) => {
        const running = snapshot.connection === 'running';
        if (running && !this.wasRunning) void this.refresh();
        this.wasRunning = running;
      }),
      this.changed,
      this.proposalChanged,
    );
  }

  /** Pending and stale proposals, oldest first. */
  get approvals(): { approvals: Proposal[]; error: string | null } {
    return { approvals: this.list, error: this.error };
  }

  /** How many proposals wait for the operator: the badge's number. */
  get waiting(): number {
    return this.list.length;
  }

  proposal(id: string): Proposal | undefined {
    return this.list.find((p) => p.id === id);
  }

  async refresh(): Promise<void> {
    this.changedWhileListing = [];
    try {
      const { approvals } = await this.client.request(ApprovalsListRequest, { status: ['pending', 'stale'] });
      let list = sortApprovals(approvals.filter((p) => isOpen(p) && !this.decided.has(p.id)));
      for (const proposal of this.changedWhileListing) list = mergeApproval(list, proposal);
      this.list = list;
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    } finally {
      this.changedWhileListing = null;
    }
    this.changed.fire();
  }

  /** A proposal as the daemon described it (pushed, or the answer to a decision made here). */
  apply(proposal: Proposal): void {
    if (this.decided.has(proposal.id)) return;
    if (!isOpen(proposal)) this.decided.add(proposal.id);
    this.changedWhileListing?.push(proposal);
    this.list = mergeApproval(this.list, proposal);
    this.changed.fire();
    this.proposalChanged.fire(proposal);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
