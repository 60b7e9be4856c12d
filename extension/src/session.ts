/**
 * Keel in an open folder: the daemon client, the stores that mirror the daemon's state and the
 * trackers that follow the editor, created together when a folder is open and disposed together.
 * Commands and the sidebar receive the session whole, so nothing they use can be missing
 * (rust-analyzer's `CtxInit`); without a folder there is no session at all (extension.ts).
 */
import * as vscode from 'vscode';
import type { WaitingFor } from './runs/traceMarkdown';
import { apiKeySource, askAgainForUnscopedKey, sendKeyOnChange } from './apiKey';
import { alertNotifications } from './alerts/alertNotifications';
import { ApprovalInbox } from './approvals/approvalInbox';
import { trackProposalEditors, type ApprovalsContext } from './approvals/approvalActions';
import { ApprovalsStore } from './approvals/approvalsStore';
import { ProposalDocuments } from './approvals/proposalDocuments';
import { connectorSecretSource } from './connectors/connectorSecrets';
import { ConnectorsStore } from './connectors/connectorsStore';
import { DaemonClient } from './daemonClient';
import { registerNoteCodeLens } from './provenance/provenanceActions';
import { announceFinishedRuns, type RunsContext } from './runs/runActions';
import { RunsStore } from './runs/runsStore';
import { RunTimelines } from './runs/runTimelinePanel';
import { RunTraceProvider } from './runs/runTrace';
import { trackStepOutputEditors } from './runs/takeoverActions';
import { TrustConsent } from './trust/trustConsent';
import { WorkspaceTracker } from './workspaceTracker';

/** What the session is made from: the extension's, which outlive it. */
export interface SessionEnvironment {
  readonly extensionUri: vscode.Uri;
  /** The bundled daemon (dist/keeld.js). */
  readonly daemonModule: string;
  readonly output: vscode.LogOutputChannel;
  readonly secrets: vscode.SecretStorage;
  /** Shows the Keel sidebar and marks the run in its list. */
  readonly revealRun: (id: string) => Promise<void>;
}

export class KeelSession implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly secrets: vscode.SecretStorage;
  readonly client: DaemonClient;
  /** Whether the folder is a Keel workspace (has a keel.yaml). */
  readonly tracker: WorkspaceTracker;
  readonly runs: RunsContext;
  readonly approvals: ApprovalsContext;
  readonly inbox: ApprovalInbox;
  readonly trust: TrustConsent;
  readonly connectors: ConnectorsStore;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly folder: string,
    environment: SessionEnvironment,
  ) {
    const { extensionUri, output, secrets } = environment;
    this.output = output;
    this.secrets = secrets;
    const client = this.own(
      new DaemonClient(folder, environment.daemonModule, output, {
        apiKeys: apiKeySource(secrets),
        connectorSecrets: connectorSecretSource(secrets, folder),
      }),
    );
    this.client = client;
    this.tracker = this.own(new WorkspaceTracker(folder));
    const store = this.own(new RunsStore(client));
    const approvals = this.own(new ApprovalsStore(client));
    this.connectors = this.own(new ConnectorsStore(client));
    const documents = this.own(new ProposalDocuments(client, approvals));
    this.approvals = { folder, client, store: approvals, documents };
    this.inbox = this.own(new ApprovalInbox(extensionUri, this.approvals, output));
    this.trust = this.own(new TrustConsent(client, output));
    const trace = this.own(new RunTraceProvider(folder, client, store, (id) => this.waitingFor(id)));
    const timeline = this.own(
      new RunTimelines({ extensionUri, folder, client, store, markdown: trace, output }),
    );
    this.runs = { folder, client, store, trace, timeline, revealRun: environment.revealRun };
    this.follow();
  }

  /** Brings the daemon up once the folder is a Keel workspace: now, or when its keel.yaml appears. */
  async start(): Promise<void> {
    // keel.yaml appeared (keel init in a terminal, a git checkout): bring the daemon up.
    this.own(
      this.tracker.onDidChange((initialized) => {
        if (initialized) void this.client.start();
      }),
    );
    if (await this.tracker.refresh()) void this.client.start();
  }

  /** Disposes what the session made, the daemon client (which stops the daemon) last. */
  dispose(): void {
    for (const disposable of this.disposables.splice(0).reverse()) disposable.dispose();
  }

  /** Keys to the daemon when they change, the editors that follow proposals and runs, the runs' news. */
  private follow(): void {
    const { client, secrets } = this;
    const alerts = this.own(alertNotifications(this.runs));
    let unscopedKeyChecked = false;
    this.own(
      client.onDidChange((snapshot) => {
        if (unscopedKeyChecked || !snapshot.daemon?.trust || !vscode.workspace.isTrusted) return;
        unscopedKeyChecked = true;
        void askAgainForUnscopedKey(secrets, client);
      }),
    );
    registerNoteCodeLens(this.runs).forEach((disposable) => this.own(disposable));
    this.own(trackProposalEditors(this.approvals));
    this.own(announceFinishedRuns(this.runs, (run) => alerts.runChanged(run)));
    this.own(trackStepOutputEditors());
    this.own(sendKeyOnChange(secrets, client));
  }

  /** What a waiting run waits for, for its trace: the proposal's summary and files. */
  private async waitingFor(id: string): Promise<WaitingFor | null> {
    const proposal = this.approvals.store.proposal(id) ?? (await this.approvals.documents.get(id))?.proposal;
    return proposal ? { id, summary: proposal.summary, changes: proposal.changes } : null;
  }

  private own<T extends vscode.Disposable>(disposable: T): T {
    this.disposables.push(disposable);
    return disposable;
  }
}
