/**
 * What each of the sidebar's messages does: a command, a search, a run or approval action, a file
 * to open. With a folder open the sidebar acts in its session; without one it offers Open Folder,
 * and anything else answers as the commands do.
 */
import * as vscode from 'vscode';
import { MemorySearchRequest } from '@keel/schemas';
import { type HostToWebviewMessage, type WebviewToHostMessage } from '@keel/schemas/src/webviews';
import { approveProposal, editProposal, openProposal, rejectProposal } from '../approvals/approvalActions';
import { TRUSTED_ONLY, type KeelCommand } from '../commandIds';
import { executeKeelCommand } from '../executeKeelCommand';
import { askForFolder, explainRestrictedMode } from '../explain';
import { cancelRun, runRunbook, showRunTrace, type RunsContext } from '../runs/runActions';
import { openResult } from '../memory/searchQuickPick';
import { answerCheckpoint, supplyStepOutput, takeOverRun } from '../runs/takeoverActions';
import type { KeelSession } from '../session';
import type { SidebarViewProvider } from './sidebarView';
import type { ActionOf } from '../webviewHost/webviewViewHost';

type Action = ActionOf<WebviewToHostMessage>;
type ActionType = Action['type'];
type SearchResults = Extract<HostToWebviewMessage, { type: 'searchResults' }>;

/** The actions that run a command, the same with or without a folder: the command answers for itself. */
const COMMAND_ACTION_TYPES = [
  'openFolder',
  'manageWorkspaceTrust',
  'initWorkspace',
  'restartDaemon',
  'showLogs',
  'reviewTrust',
  'emergencyStop',
  'openApprovalInbox',
  'checkConnector',
  'setConnectorSecret',
] as const satisfies readonly ActionType[];
const COMMAND_ACTIONS: ReadonlySet<ActionType> = new Set(COMMAND_ACTION_TYPES);

type CommandAction = Extract<Action, { type: (typeof COMMAND_ACTION_TYPES)[number] }>;
/** The actions done in the folder's session. */
type SessionAction = Exclude<Action, CommandAction>;

/** The sidebar's actions that Restricted Mode disables, as the commands doing the same are. */
const ACTION_COMMANDS: Partial<Record<ActionType, KeelCommand>> = {
  runRunbook: 'keel.runRunbook',
  takeOverRun: 'keel.takeOverRun',
  answerCheckpoint: 'keel.answerCheckpoint',
  approveProposal: 'keel.approveProposal',
  editProposal: 'keel.editProposal',
  rejectProposal: 'keel.rejectProposal',
  checkConnector: 'keel.checkConnectors',
  setConnectorSecret: 'keel.setConnectorSecret',
};

/** Runs one sidebar action in the folder's session; a failure is logged and shown, never thrown at the webview. */
export async function runSidebarAction(
  message: Action,
  session: KeelSession,
  sidebar: SidebarViewProvider,
): Promise<void> {
  try {
    if (restricted(message)) await explainRestrictedMode();
    else if (isCommandAction(message)) await runCommandAction(message);
    else await dispatch(message, session, sidebar);
  } catch (error) {
    if (session.trust.explain(error)) return;
    report(session.output, message, error);
  }
}

/**
 * Without a folder the sidebar shows Open Folder only. Whatever else reaches here gets the commands'
 * answers: a command's own, "open a folder first" for what needs one, and no search results.
 */
export async function runSidebarActionWithoutFolder(
  message: Action,
  sidebar: SidebarViewProvider,
  output: vscode.LogOutputChannel,
): Promise<void> {
  try {
    if (restricted(message)) await explainRestrictedMode();
    else if (isCommandAction(message)) await runCommandAction(message);
    else if (message.type === 'search') sidebar.post(noResults(message.requestId, message.query, null));
    else await askForFolder();
  } catch (error) {
    report(output, message, error);
  }
}

function isCommandAction(message: Action): message is CommandAction {
  return COMMAND_ACTIONS.has(message.type);
}

function runCommandAction(message: CommandAction): Thenable<unknown> {
  switch (message.type) {
    case 'openFolder':
      return vscode.commands.executeCommand('vscode.openFolder');
    case 'manageWorkspaceTrust':
      return vscode.commands.executeCommand('workbench.trust.manage');
    case 'initWorkspace':
      return executeKeelCommand('keel.initWorkspace');
    case 'restartDaemon':
      return executeKeelCommand('keel.restartDaemon');
    case 'showLogs':
      return executeKeelCommand('keel.showLogs');
    case 'reviewTrust':
      return executeKeelCommand('keel.reviewTrust');
    case 'emergencyStop':
      return executeKeelCommand('keel.emergencyStop');
    case 'openApprovalInbox':
      return executeKeelCommand('keel.openApprovalInbox');
    case 'checkConnector':
      return executeKeelCommand('keel.checkConnectors', message.name);
    case 'setConnectorSecret':
      return executeKeelCommand('keel.setConnectorSecret', message.name);
  }
}

/** Restricted Mode disables the action, as it does the command doing the same. */
function restricted(message: Action): boolean {
  const command = ACTION_COMMANDS[message.type];
  return command !== undefined && TRUSTED_ONLY.has(command) && !vscode.workspace.isTrusted;
}

function report(output: vscode.LogOutputChannel, message: Action, error: unknown): void {
  const text = (error as Error).message;
  output.error(`Sidebar action ${message.type} failed: ${text}`);
  void vscode.window.showErrorMessage(`Keel: ${text}`);
}

async function dispatch(
  message: SessionAction,
  session: KeelSession,
  sidebar: SidebarViewProvider,
): Promise<void> {
  const { runs, approvals } = session;
  switch (message.type) {
    case 'search':
      return searchFromSidebar(message.requestId, message.query, session, sidebar);
    case 'openResult':
      return openResult(session.folder, message.path, message.line, message.column);
    case 'runRunbook':
      return runRunbook(runs, message.runbook);
    case 'cancelRun':
      return cancelRun(runs, message.id);
    case 'takeOverRun':
      return takeOverFromSidebar(runs, message.id);
    case 'answerCheckpoint':
      return answerCheckpoint(runs, message.id);
    case 'showRunTrace':
      return showRunTrace(runs, message.id);
    case 'refreshRunbooks':
      return runs.store.refreshRunbooks();
    case 'openProposal':
      return openProposal(approvals, message.id);
    case 'approveProposal':
      return approveProposal(approvals, message.id, false);
    case 'editProposal':
      return editProposal(approvals, message.id);
    case 'rejectProposal':
      return rejectProposal(approvals, message.id);
  }
}

function noResults(requestId: number, query: string, error: string | null): SearchResults {
  return { type: 'searchResults', requestId, query, results: [], error };
}

async function searchFromSidebar(
  requestId: number,
  query: string,
  { client }: KeelSession,
  sidebar: SidebarViewProvider,
): Promise<void> {
  if (query.trim() === '') {
    sidebar.post(noResults(requestId, query, null));
    return;
  }
  try {
    const { results } = await client.request(MemorySearchRequest, {
      query,
      k: 20,
      // Notes and finished runs: a run hit opens its trace (openResult).
      filter: { kind: 'any' },
    });
    sidebar.post({ type: 'searchResults', requestId, query, results, error: null });
  } catch (error) {
    sidebar.post(noResults(requestId, query, (error as Error).message));
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
