/**
 * Keel's VS Code extension: thin by design. It starts the workspace's daemon, renders its state in
 * the sidebar and the status bar, and turns the operator's gestures into requests.
 */
import * as vscode from 'vscode';
import type { HostToWebviewMessage } from '@keel/schemas';
import { apiKeySource, askAgainForUnscopedKey, sendKeyOnChange } from './apiKey';
import { ApprovalInbox } from './approvals/approvalInbox';
import { trackProposalEditors, type ApprovalsContext } from './approvals/approvalActions';
import { ApprovalsStore } from './approvals/approvalsStore';
import { ProposalDocuments } from './approvals/proposalDocuments';
import { registerCommands, type Session } from './commands';
import { connectorSecretSource } from './connectors/connectorSecrets';
import { ConnectorsStore } from './connectors/connectorsStore';
import { registerDashboard } from './dashboard/dashboard';
import { DaemonClient } from './daemonClient';
import { RunsStore } from './runs/runsStore';
import { TrustConsent } from './trust/trustConsent';
import { announceFinishedRuns, type RunsContext } from './runs/runActions';
import { alertNotifications } from './alerts/alertNotifications';
import { trackStepOutputEditors } from './runs/takeoverActions';
import { RunTraceProvider } from './runs/runTrace';
import { RunTimelines } from './runs/runTimelinePanel';
import { registerNoteCodeLens } from './provenance/provenanceActions';
import { runSidebarAction } from './sidebar/sidebarActions';
import { composeSidebarState } from './sidebar/sidebarState';
import { SidebarViewProvider } from './sidebar/sidebarView';
import { StatusBar } from './sidebar/statusBar';
import { WorkspaceTracker } from './workspaceTracker';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Keel', { log: true });
  const folder = firstLocalFolder();
  const daemonModule = context.asAbsolutePath('dist/keeld.js');
  const client = folder ? new DaemonClient(folder, daemonModule, output) : null;
  const tracker = folder ? new WorkspaceTracker(folder) : null;
  const store = folder && client ? new RunsStore(client) : null;
  const approvalsStore = client ? new ApprovalsStore(client) : null;
  const connectorsStore = client ? new ConnectorsStore(client) : null;
  const approvals: ApprovalsContext | null =
    folder && client && approvalsStore
      ? { folder, client, store: approvalsStore, documents: new ProposalDocuments(client, approvalsStore) }
      : null;

  const inbox = approvals ? new ApprovalInbox(context.extensionUri, approvals, output) : null;
  const trust = client ? new TrustConsent(client, output) : null;

  const state = () =>
    composeSidebarState(
      folder,
      tracker?.initialized ?? false,
      client?.state ?? null,
      vscode.workspace.isTrusted,
    );
  const runbooksMessage = (): HostToWebviewMessage[] =>
    store ? [{ type: 'runbooks', ...store.runbooks }] : [];
  const runsMessage = (): HostToWebviewMessage[] => (store ? [{ type: 'runs', ...store.runs }] : []);
  const approvalsMessage = (): HostToWebviewMessage[] =>
    approvalsStore ? [{ type: 'approvals', ...approvalsStore.approvals }] : [];
  const connectorsMessage = (): HostToWebviewMessage[] =>
    connectorsStore ? [{ type: 'connectors', ...connectorsStore.connectors }] : [];
  const statusBar = new StatusBar();
  const sidebar: SidebarViewProvider = new SidebarViewProvider(
    context.extensionUri,
    () => [
      { type: 'state', state: state() },
      ...approvalsMessage(),
      ...runbooksMessage(),
      ...runsMessage(),
      ...connectorsMessage(),
    ],
    (message) => void runSidebarAction(message, { folder, client, runs, approvals, sidebar, trust, output }),
    output,
  );
  const trace =
    folder && client && store
      ? new RunTraceProvider(folder, client, store, async (id) => {
          const proposal = approvalsStore?.proposal(id) ?? (await approvals?.documents.get(id))?.proposal;
          return proposal ? { id, summary: proposal.summary, changes: proposal.changes } : null;
        })
      : null;
  const runs: RunsContext | null =
    folder && client && store && trace
      ? {
          folder,
          client,
          store,
          trace,
          timeline: new RunTimelines({
            extensionUri: context.extensionUri,
            folder,
            client,
            store,
            markdown: trace,
            output,
          }),
          revealRun: (id) => sidebar.revealRun(id),
        }
      : null;
  const render = (): void => {
    const current = state();
    statusBar.render(current, approvalsStore?.waiting ?? 0);
    sidebar.post({ type: 'state', state: current });
    void vscode.commands.executeCommand('setContext', 'keel.connection', current.connection);
  };
  // All of it exists once a folder is open, so a command's handler checks none of it (commands.ts).
  const session: Session | null =
    folder && client && tracker && runs && approvals && inbox && trust && connectorsStore
      ? {
          folder,
          client,
          tracker,
          output,
          secrets: context.secrets,
          runs,
          approvals,
          inbox,
          trust,
          connectors: connectorsStore,
        }
      : null;
  let unscopedKeyChecked = false;

  context.subscriptions.push(
    output,
    statusBar,
    sidebar,
    vscode.window.registerWebviewViewProvider(SidebarViewProvider.viewId, sidebar),
    ...registerCommands({ output, secrets: context.secrets }, session),
    vscode.workspace.onDidGrantWorkspaceTrust(render),
    ...registerDashboard(context.extensionUri, client, store, output),
  );
  if (client && tracker && store && runs && approvals && trust && connectorsStore && folder) {
    const alerts = alertNotifications(runs);
    client.useApiKeyFrom(apiKeySource(context.secrets));
    client.useConnectorSecretsFrom(connectorSecretSource(context.secrets, folder));
    context.subscriptions.push(
      client,
      trust,
      client.onDidChange((snapshot) => {
        if (unscopedKeyChecked || !snapshot.daemon?.trust || !vscode.workspace.isTrusted) return;
        unscopedKeyChecked = true;
        void askAgainForUnscopedKey(context.secrets, client);
      }),
      tracker,
      store,
      runs.trace,
      runs.timeline,
      ...registerNoteCodeLens(runs),
      client.onDidChange(render),
      store.onDidChangeRunbooks(() => runbooksMessage().forEach((m) => sidebar.post(m))),
      store.onDidChangeRuns(() => runsMessage().forEach((m) => sidebar.post(m))),
      approvals.store,
      approvals.documents,
      ...(inbox ? [inbox] : []),
      approvals.store.onDidChange(() => {
        approvalsMessage().forEach((m) => sidebar.post(m));
        sidebar.setWaitingApprovals(approvals.store.waiting);
        render();
      }),
      connectorsStore,
      connectorsStore.onDidChange(() => connectorsMessage().forEach((m) => sidebar.post(m))),
      trackProposalEditors(approvals),
      alerts,
      announceFinishedRuns(runs, (run) => alerts.runChanged(run)),
      trackStepOutputEditors(),
      sendKeyOnChange(context.secrets, client),
      tracker.onDidChange((initialized) => {
        render();
        // keel.yaml appeared (keel init in a terminal, a git checkout): bring the daemon up.
        if (initialized) void client.start();
      }),
    );
    if (await tracker.refresh()) void client.start();
  }
  render();
}

export function deactivate(): void {
  // Disposables in context.subscriptions stop the daemon client.
}

function firstLocalFolder(): string | null {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  return folder ? folder.uri.fsPath : null;
}
