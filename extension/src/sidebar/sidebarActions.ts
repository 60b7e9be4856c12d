/**
 * What each of the sidebar's messages does: a command, a search, a run or approval action, a file
 * to open.
 */
import * as vscode from 'vscode';
import { MemorySearchRequest, type WebviewToHostMessage } from '@keel/schemas';
import {
  approveProposal,
  editProposal,
  openProposal,
  rejectProposal,
  type ApprovalsContext,
} from '../approvals/approvalActions';
import { explainRestrictedMode } from '../commands';
import { TRUSTED_ONLY, type KeelCommand } from '../commandIds';
import type { TrustConsent } from '../trust/trustConsent';
import type { DaemonClient } from '../daemonClient';
import { cancelRun, runRunbook, showRunTrace, type RunsContext } from '../runs/runActions';
import { openResult } from '../memory/searchQuickPick';
import { answerCheckpoint, supplyStepOutput, takeOverRun } from '../runs/takeoverActions';
import type { SidebarViewProvider } from './sidebarView';
import type { ActionOf } from '../webviewHost/webviewViewHost';
import { executeKeelCommand } from '../executeKeelCommand';

export interface SidebarContext {
  folder: string | null;
  client: DaemonClient | null;
  runs: RunsContext | null;
  approvals: ApprovalsContext | null;
  sidebar: SidebarViewProvider;
  trust: TrustConsent | null;
  output: vscode.LogOutputChannel;
}

const COMMAND_ACTIONS: Record<
  'initWorkspace' | 'restartDaemon' | 'showLogs' | 'reviewTrust' | 'manageWorkspaceTrust',
  KeelCommand | 'workbench.trust.manage'
> = {
  initWorkspace: 'keel.initWorkspace',
  restartDaemon: 'keel.restartDaemon',
  showLogs: 'keel.showLogs',
  reviewTrust: 'keel.reviewTrust',
  manageWorkspaceTrust: 'workbench.trust.manage',
};

/** The sidebar's actions that Restricted Mode disables, as the commands doing the same are. */
const ACTION_COMMANDS: Partial<Record<WebviewToHostMessage['type'], KeelCommand>> = {
  runRunbook: 'keel.runRunbook',
  takeOverRun: 'keel.takeOverRun',
  answerCheckpoint: 'keel.answerCheckpoint',
  approveProposal: 'keel.approveProposal',
  editProposal: 'keel.editProposal',
  rejectProposal: 'keel.rejectProposal',
  checkConnector: 'keel.checkConnectors',
  setConnectorSecret: 'keel.setConnectorSecret',
};

/** Runs one sidebar action; a failure is logged and shown, never thrown at the webview. */
export async function runSidebarAction(
  message: ActionOf<WebviewToHostMessage>,
  context: SidebarContext,
): Promise<void> {
  try {
    await dispatch(message, context);
  } catch (error) {
    if (context.trust?.explain(error)) return;
    const text = (error as Error).message;
    context.output.error(`Sidebar action ${message.type} failed: ${text}`);
    void vscode.window.showErrorMessage(`Keel: ${text}`);
  }
}

async function dispatch(message: ActionOf<WebviewToHostMessage>, context: SidebarContext): Promise<void> {
  const { runs, approvals } = context;
  const command = ACTION_COMMANDS[message.type];
  if (command && TRUSTED_ONLY.has(command) && !vscode.workspace.isTrusted) return explainRestrictedMode();
  switch (message.type) {
    case 'openFolder':
      await vscode.commands.executeCommand('vscode.openFolder');
      return;
    case 'emergencyStop':
      await executeKeelCommand('keel.emergencyStop');
      return;
    case 'search':
      await searchFromSidebar(message.requestId, message.query, context);
      return;
    case 'openResult':
      if (context.folder) await openResult(context.folder, message.path, message.line, message.column);
      return;
    case 'runRunbook':
      if (runs) await runRunbook(runs, message.runbook);
      return;
    case 'cancelRun':
      if (runs) await cancelRun(runs, message.id);
      return;
    case 'takeOverRun':
      if (runs) await takeOverFromSidebar(runs, message.id);
      return;
    case 'answerCheckpoint':
      if (runs) await answerCheckpoint(runs, message.id);
      return;
    case 'showRunTrace':
      if (runs) await showRunTrace(runs, message.id);
      return;
    case 'refreshRunbooks':
      if (runs) await runs.store.refreshRunbooks();
      return;
    case 'openApprovalInbox':
      await executeKeelCommand('keel.openApprovalInbox');
      return;
    case 'openProposal':
      if (approvals) await openProposal(approvals, message.id);
      return;
    case 'approveProposal':
      if (approvals) await approveProposal(approvals, message.id, false);
      return;
    case 'editProposal':
      if (approvals) await editProposal(approvals, message.id);
      return;
    case 'rejectProposal':
      if (approvals) await rejectProposal(approvals, message.id);
      return;
    case 'checkConnector':
      await executeKeelCommand('keel.checkConnectors', message.name);
      return;
    case 'setConnectorSecret':
      await executeKeelCommand('keel.setConnectorSecret', message.name);
      return;
    default:
      await vscode.commands.executeCommand(COMMAND_ACTIONS[message.type]);
  }
}

async function searchFromSidebar(requestId: number, query: string, context: SidebarContext): Promise<void> {
  const answer = { type: 'searchResults' as const, requestId, query };
  if (!context.client || query.trim() === '') {
    context.sidebar.post({ ...answer, results: [], error: null });
    return;
  }
  try {
    const { results } = await context.client.request(MemorySearchRequest, {
      query,
      k: 20,
      // Notes and finished runs: a run hit opens its trace (openResult).
      filter: { kind: 'any' },
    });
    context.sidebar.post({ ...answer, results, error: null });
  } catch (error) {
    context.sidebar.post({ ...answer, results: [], error: (error as Error).message });
  }
}

/** The sidebar's Take over…: go on from a step, or supply its output by hand first. */
async function takeOverFromSidebar(runs: RunsContext, id: string): Promise<void> {
  const how = await vscode.window.showQuickPick(
    [
      {
        label: 'Go on from a step…',
        detail: 'The steps before it are taken from the journal.',
        supply: false,
      },
      {
        label: 'Supply a step’s output…',
        detail: 'Edit its output as JSON; the run goes on after it.',
        supply: true,
      },
    ],
    { title: 'Keel: Take Over Run', placeHolder: 'How?' },
  );
  if (!how) return;
  await (how.supply ? supplyStepOutput(runs, id) : takeOverRun(runs, id));
}
