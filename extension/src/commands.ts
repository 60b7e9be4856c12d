/** Keel's commands, registered from one typed table. Each answers clearly when it cannot run. */
import * as vscode from 'vscode';
import { AsOf, WorkspaceInitRequest, type InitResult } from '@keel/schemas';
import { askForApiKey } from './apiKey';
import {
  approveProposal,
  editProposal,
  openProposal,
  rejectProposal,
  resolveProposalId,
  type ApprovalsContext,
} from './approvals/approvalActions';
import type { ApprovalInbox } from './approvals/approvalInbox';
import { TRUSTED_ONLY, type WorkspaceCommand } from './commandIds';
import { checkConnectors } from './connectors/connectorActions';
import { askForConnectorSecret } from './connectors/connectorSecrets';
import type { ConnectorsStore } from './connectors/connectorsStore';
import type { DaemonClient } from './daemonClient';
import { executeKeelCommand } from './executeKeelCommand';
import type { TrustConsent } from './trust/trustConsent';
import { runRunbook, showRunTrace, type RunsContext } from './views/runActions';
import { answerCheckpoint, confirmStepOutput, supplyStepOutput, takeOverRun } from './runs/takeoverActions';
import { showSearchQuickPick } from './views/searchQuickPick';
import { rerunRun, showNoteRuns } from './provenance/provenanceActions';
import type { WorkspaceTracker } from './workspaceTracker';

export interface CommandContext {
  readonly folder: string | null;
  readonly client: DaemonClient | null;
  readonly tracker: WorkspaceTracker | null;
  readonly output: vscode.LogOutputChannel;
  readonly secrets: vscode.SecretStorage;
  /** Null without a folder. */
  readonly runs: RunsContext | null;
  /** Null without a folder. */
  readonly approvals: ApprovalsContext | null;
  /** Null without a folder. */
  readonly inbox: ApprovalInbox | null;
  /** Null without a folder. */
  readonly trust: TrustConsent | null;
  /** Null without a folder. */
  readonly connectors: ConnectorsStore | null;
}

/** A command's arguments come from other code (a notification's button, a link), so are checked. */
export const COMMANDS = {
  'keel.initWorkspace': initWorkspace,
  'keel.restartDaemon': restartDaemon,
  'keel.searchMemory': searchMemory,
  'keel.searchMemoryAsOf': searchMemoryAsOf,
  'keel.runRunbook': (context: CommandContext, name?: unknown) =>
    withRunningDaemon(context, (runs) => runRunbook(runs, typeof name === 'string' ? name : undefined)),
  'keel.showRunTrace': (context: CommandContext, id?: unknown) =>
    withRunningDaemon(context, (runs) => showRunTrace(runs, typeof id === 'string' ? id : undefined)),
  'keel.showRunTraceMarkdown': (context: CommandContext, id?: unknown) =>
    withRunningDaemon(context, (runs) =>
      showRunTrace(runs, typeof id === 'string' ? id : undefined, 'markdown'),
    ),
  // From the note's CodeLens: its workspace-relative path; from the palette: the active editor's.
  'keel.showNoteRuns': (context: CommandContext, path?: unknown) =>
    withRunningDaemon(context, (runs) => showNoteRuns(runs, typeof path === 'string' ? path : undefined)),
  // From the dashboard's Re-run button.
  'keel.rerunRun': (context: CommandContext, id?: unknown) =>
    withRunningDaemon(context, (runs) => rerunRun(runs, typeof id === 'string' ? id : undefined)),
  'keel.takeOverRun': (context: CommandContext, id?: unknown, fromStep?: unknown) =>
    withRunningDaemon(context, (runs) =>
      takeOverRun(
        runs,
        typeof id === 'string' ? id : undefined,
        typeof fromStep === 'string' ? fromStep : undefined,
      ),
    ),
  'keel.supplyStepOutput': (context: CommandContext, id?: unknown) =>
    withRunningDaemon(context, (runs) => supplyStepOutput(runs, typeof id === 'string' ? id : undefined)),
  'keel.confirmStepOutput': (context: CommandContext, uri?: unknown) =>
    withRunningDaemon(context, (runs) =>
      confirmStepOutput(runs, uri instanceof vscode.Uri ? uri : undefined),
    ),
  'keel.answerCheckpoint': (context: CommandContext, id?: unknown) =>
    withRunningDaemon(context, (runs) => answerCheckpoint(runs, typeof id === 'string' ? id : undefined)),
  // From the sidebar or a link: a proposal id. From the diff editor's title: its document's URI.
  'keel.openProposal': (context: CommandContext, target?: unknown) =>
    withProposal(context, target, (approvals, id) => openProposal(approvals, id)),
  'keel.approveProposal': (context: CommandContext, target?: unknown) =>
    withProposal(context, target, (approvals, id, fromDiff) => approveProposal(approvals, id, fromDiff)),
  'keel.editProposal': (context: CommandContext, target?: unknown) =>
    withProposal(context, target, (approvals, id) => editProposal(approvals, id)),
  'keel.rejectProposal': (context: CommandContext, target?: unknown) =>
    withProposal(context, target, (approvals, id) => rejectProposal(approvals, id)),
  'keel.openApprovalInbox': async (context: CommandContext) => {
    if (await ensureRunning(context, 'nothing waits for your approval')) await context.inbox!.show();
  },
  'keel.setApiKey': (context: CommandContext) => askForApiKey(context.secrets, context.client),
  // From the sidebar: the connector's name; from the palette: picked from keel.yaml's.
  'keel.setConnectorSecret': (context: CommandContext, name?: unknown) =>
    withConnectors(context, () =>
      askForConnectorSecret(
        context.secrets,
        context.folder!,
        context.client!,
        typeof name === 'string' ? name : undefined,
      ),
    ),
  'keel.checkConnectors': (context: CommandContext, name?: unknown) =>
    withConnectors(context, (store) => checkConnectors(store, typeof name === 'string' ? name : undefined)),
  'keel.reviewTrust': (context: CommandContext) => (context.trust ? context.trust.review() : askForFolder()),
  'keel.showLogs': (context: CommandContext) => context.output.show(),
} satisfies Record<WorkspaceCommand, (context: CommandContext, ...args: unknown[]) => unknown>;

export function registerCommands(context: CommandContext): vscode.Disposable[] {
  return (
    Object.entries(COMMANDS) as [WorkspaceCommand, (context: CommandContext, ...args: unknown[]) => unknown][]
  ).map(([id, run]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        if (TRUSTED_ONLY.has(id) && !vscode.workspace.isTrusted) return await explainRestrictedMode();
        await run(context, ...args);
      } catch (error) {
        if (context.trust?.explain(error)) return;
        const message = (error as Error).message;
        context.output.error(`${id} failed: ${message}`);
        void vscode.window.showErrorMessage(`Keel: ${message}`);
      }
    }),
  );
}

async function initWorkspace({ client, tracker, trust }: CommandContext): Promise<void> {
  if (!client || !tracker || !trust) return askForFolder();
  if (client.state.connection !== 'running') await client.start();
  if (client.state.connection !== 'running') return; // start() already told the operator why
  const result = await trust.whileInitializing(() => client.request(WorkspaceInitRequest));
  await tracker.refresh();
  void vscode.window.showInformationMessage(describeInit(result));
}

async function restartDaemon({ client, tracker }: CommandContext): Promise<void> {
  if (!client || !tracker) return askForFolder();
  if (!(await tracker.refresh())) {
    const choice = await vscode.window.showWarningMessage(
      'This folder is not a Keel workspace yet, so no daemon runs for it.',
      'Initialize Workspace',
    );
    if (choice) await executeKeelCommand('keel.initWorkspace');
    return;
  }
  await client.restart();
}

async function searchMemory(context: CommandContext): Promise<void> {
  if (!(await ensureRunning(context, 'it has no memory to search'))) return;
  await showSearchQuickPick(context.client!, context.folder!);
}

/** Memory as it was in git at a moment: from a run's trace, or a date the operator types. */
async function searchMemoryAsOf(context: CommandContext, asOf?: unknown): Promise<void> {
  if (!(await ensureRunning(context, 'it has no memory to search'))) return;
  const when =
    typeof asOf === 'string'
      ? asOf
      : await vscode.window.showInputBox({
          title: 'Keel: Search Memory as of a Date',
          prompt: 'The notes as they were in git then: YYYY-MM-DD, an ISO date-time or a commit id',
          validateInput: (value) => {
            const checked = AsOf.safeParse(value);
            return checked.success ? null : checked.error.issues[0]?.message;
          },
        });
  if (!when) return;
  await showSearchQuickPick(context.client!, context.folder!, when);
}

async function withRunningDaemon(
  context: CommandContext,
  action: (runs: RunsContext) => Promise<void>,
): Promise<void> {
  if (!(await ensureRunning(context, 'it has no runbooks to run'))) return;
  await action(context.runs!);
}

async function withConnectors(
  context: CommandContext,
  action: (store: ConnectorsStore) => Promise<void>,
): Promise<void> {
  if (!(await ensureRunning(context, 'it has no connectors'))) return;
  await action(context.connectors!);
}

async function withProposal(
  context: CommandContext,
  target: unknown,
  action: (approvals: ApprovalsContext, id: string, fromDiff: boolean) => Promise<void>,
): Promise<void> {
  if (!(await ensureRunning(context, 'nothing waits for your approval'))) return;
  const proposal = await resolveProposalId(context.approvals!, target);
  if (proposal) await action(context.approvals!, proposal.id, proposal.fromDiff);
}

/** Starts the daemon if needed; false (after telling the operator why) when it cannot run. */
async function ensureRunning({ client, tracker, folder }: CommandContext, lacks: string): Promise<boolean> {
  if (!client || !tracker || !folder) {
    await askForFolder();
    return false;
  }
  if (!(await tracker.refresh())) {
    const choice = await vscode.window.showWarningMessage(
      `This folder is not a Keel workspace yet, so ${lacks}.`,
      'Initialize Workspace',
    );
    if (choice) await executeKeelCommand('keel.initWorkspace');
    return false;
  }
  // Resolves at once when running; waits for a start or restart under way.
  await client.start();
  return client.state.connection === 'running';
}

/** Restricted Mode's answer to a command it disables. */
export async function explainRestrictedMode(): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    'Keel: this workspace is in Restricted Mode. Keel indexes and searches it locally but sends nothing and runs nothing until you trust it.',
    'Manage Workspace Trust',
  );
  if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
}

async function askForFolder(): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    'Keel works on a folder: open one first.',
    'Open Folder',
  );
  if (choice) await vscode.commands.executeCommand('vscode.openFolder');
}

function describeInit(result: InitResult): string {
  const made = [...result.created, ...(result.gitInitialized ? ['a git repository'] : [])];
  const base =
    made.length > 0
      ? `Keel workspace initialized: created ${made.join(', ')}.`
      : 'This folder already is a Keel workspace; nothing was changed.';
  return [base, ...result.warnings].join(' ');
}
