/**
 * Keel's commands, registered from one typed table (its ids: commandIds.ts). Each entry says what it
 * needs, the daemon running or nothing, and what it does with a folder open (`enabled`, given the
 * folder's session) and without one (`disabled`); registration checks the rest before a handler
 * runs, so a handler finds nothing missing and the operator hears what is.
 */
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
import { TRUSTED_ONLY, type WorkspaceCommand } from './commandIds';
import { checkConnectors } from './connectors/connectorActions';
import { askForConnectorSecret } from './connectors/connectorSecrets';
import { executeKeelCommand } from './executeKeelCommand';
import { askForFolder, explainRestrictedMode } from './explain';
import { runRunbook, showRunTrace } from './runs/runActions';
import { answerCheckpoint, confirmStepOutput, supplyStepOutput, takeOverRun } from './runs/takeoverActions';
import { showSearchQuickPick } from './memory/searchQuickPick';
import { rerunRun, showNoteRuns } from './provenance/provenanceActions';
import type { KeelSession } from './session';
import type { WorkspaceTracker } from './workspaceTracker';

/** What there is without a folder. */
export type NoFolder = Pick<KeelSession, 'output'>;

/**
 * One command. `enabled` runs when a folder is open, `disabled` when none is (by default, Keel asks
 * for one). Arguments come from other code (a notification's button, a link), so are checked.
 */
interface Command {
  /**
   * Set for a command that needs the daemon, which is then started first. The words end the answer
   * given when the folder is not a Keel workspace yet: "This folder is not a Keel workspace yet, so …".
   */
  readonly needsDaemon?: string;
  readonly enabled: (session: KeelSession, ...args: unknown[]) => unknown;
  readonly disabled?: (noFolder: NoFolder, ...args: unknown[]) => unknown;
}

const NO_MEMORY = 'it has no memory to search';
const NO_RUNBOOKS = 'it has no runbooks to run';
const NO_APPROVALS = 'nothing waits for your approval';
const NO_CONNECTORS = 'it has no connectors';

export const COMMANDS = {
  'keel.initWorkspace': { enabled: initWorkspace },
  'keel.restartDaemon': { enabled: restartDaemon },
  'keel.searchMemory': {
    needsDaemon: NO_MEMORY,
    enabled: ({ client, folder }) => showSearchQuickPick(client, folder),
  },
  'keel.searchMemoryAsOf': { needsDaemon: NO_MEMORY, enabled: searchMemoryAsOf },
  'keel.runRunbook': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, name) => runRunbook(runs, optionalString(name)),
  },
  'keel.showRunTrace': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id) => showRunTrace(runs, optionalString(id)),
  },
  'keel.showRunTraceMarkdown': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id) => showRunTrace(runs, optionalString(id), 'markdown'),
  },
  // From the note's CodeLens: its workspace-relative path; from the palette: the active editor's.
  'keel.showNoteRuns': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, path) => showNoteRuns(runs, optionalString(path)),
  },
  // From the dashboard's Re-run button.
  'keel.rerunRun': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id) => rerunRun(runs, optionalString(id)),
  },
  'keel.takeOverRun': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id, fromStep) => takeOverRun(runs, optionalString(id), optionalString(fromStep)),
  },
  'keel.supplyStepOutput': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id) => supplyStepOutput(runs, optionalString(id)),
  },
  'keel.confirmStepOutput': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, uri) => confirmStepOutput(runs, uri instanceof vscode.Uri ? uri : undefined),
  },
  'keel.answerCheckpoint': {
    needsDaemon: NO_RUNBOOKS,
    enabled: ({ runs }, id) => answerCheckpoint(runs, optionalString(id)),
  },
  // From the sidebar or a link: a proposal id. From the diff editor's title: its document's URI.
  'keel.openProposal': {
    needsDaemon: NO_APPROVALS,
    enabled: onProposal((approvals, id) => openProposal(approvals, id)),
  },
  'keel.approveProposal': {
    needsDaemon: NO_APPROVALS,
    enabled: onProposal((approvals, id, fromDiff) => approveProposal(approvals, id, fromDiff)),
  },
  'keel.editProposal': {
    needsDaemon: NO_APPROVALS,
    enabled: onProposal((approvals, id) => editProposal(approvals, id)),
  },
  'keel.rejectProposal': {
    needsDaemon: NO_APPROVALS,
    enabled: onProposal((approvals, id) => rejectProposal(approvals, id)),
  },
  'keel.openApprovalInbox': { needsDaemon: NO_APPROVALS, enabled: ({ inbox }) => inbox.show() },
  // The key is kept for the endpoint keel.yaml names, which only the folder's daemon can tell.
  'keel.setApiKey': { enabled: ({ secrets, client }) => askForApiKey(secrets, client) },
  // From the sidebar: the connector's name; from the palette: picked from keel.yaml's.
  'keel.setConnectorSecret': {
    needsDaemon: NO_CONNECTORS,
    enabled: ({ secrets, folder, client }, name) =>
      askForConnectorSecret(secrets, folder, client, optionalString(name)),
  },
  'keel.checkConnectors': {
    needsDaemon: NO_CONNECTORS,
    enabled: ({ connectors }, name) => checkConnectors(connectors, optionalString(name)),
  },
  'keel.reviewTrust': { enabled: ({ trust }) => trust.review() },
  'keel.showLogs': { enabled: ({ output }) => output.show(), disabled: ({ output }) => output.show() },
} satisfies Record<WorkspaceCommand, Command>;

/** With a folder open: each command's `enabled`, after starting the daemon if it needs it. */
export function registerCommands(session: KeelSession): vscode.Disposable[] {
  return register(
    session.output,
    async (command, args) => {
      if (command.needsDaemon && !(await ensureRunning(session, command.needsDaemon))) return;
      await command.enabled(session, ...args);
    },
    (error) => session.trust.explain(error),
  );
}

/** Without a folder: each command's `disabled`, by default asking for a folder and doing nothing else. */
export function registerCommandsWithoutFolder(noFolder: NoFolder): vscode.Disposable[] {
  return register(noFolder.output, async (command, args) => {
    await (command.disabled ? command.disabled(noFolder, ...args) : askForFolder());
  });
}

/**
 * Registers every command of the table to `run`, after Restricted Mode's check. A failure is logged
 * and shown, unless `explained` already told the operator what it means.
 */
function register(
  output: vscode.LogOutputChannel,
  run: (command: Command, args: unknown[]) => Promise<void>,
  explained: (error: unknown) => boolean = () => false,
): vscode.Disposable[] {
  return (Object.entries(COMMANDS) as [WorkspaceCommand, Command][]).map(([id, command]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        if (TRUSTED_ONLY.has(id) && !vscode.workspace.isTrusted) return await explainRestrictedMode();
        await run(command, args);
      } catch (error) {
        if (explained(error)) return;
        const message = (error as Error).message;
        output.error(`${id} failed: ${message}`);
        void vscode.window.showErrorMessage(`Keel: ${message}`);
      }
    }),
  );
}

async function initWorkspace({ client, tracker, trust }: KeelSession): Promise<void> {
  if (client.state.connection !== 'running') await client.start();
  if (client.state.connection !== 'running') return; // start() already told the operator why
  const result = await trust.whileInitializing(() => client.request(WorkspaceInitRequest));
  await tracker.refresh();
  void vscode.window.showInformationMessage(describeInit(result));
}

async function restartDaemon({ client, tracker }: KeelSession): Promise<void> {
  if (await isWorkspace(tracker, 'no daemon runs for it')) await client.restart();
}

/** Memory as it was in git at a moment: from a run's trace, or a date the operator types. */
async function searchMemoryAsOf({ client, folder }: KeelSession, asOf?: unknown): Promise<void> {
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
  await showSearchQuickPick(client, folder, when);
}

/** A proposal command's handler: finds which proposal it names (an id, or a diff editor's URI) first. */
function onProposal(
  action: (approvals: ApprovalsContext, id: string, fromDiff: boolean) => Promise<void>,
): (session: KeelSession, target?: unknown) => Promise<void> {
  return async ({ approvals }, target) => {
    const proposal = await resolveProposalId(approvals, target);
    if (proposal) await action(approvals, proposal.id, proposal.fromDiff);
  };
}

/** Starts the daemon if needed; false (after telling the operator why) when it cannot run. */
async function ensureRunning({ client, tracker }: KeelSession, lacks: string): Promise<boolean> {
  if (!(await isWorkspace(tracker, lacks))) return false;
  // Resolves at once when running; waits for a start or restart under way.
  await client.start();
  return client.state.connection === 'running';
}

/** False, after offering to initialize the folder, when it is not a Keel workspace yet. */
async function isWorkspace(tracker: WorkspaceTracker, lacks: string): Promise<boolean> {
  if (await tracker.refresh()) return true;
  const choice = await vscode.window.showWarningMessage(
    `This folder is not a Keel workspace yet, so ${lacks}.`,
    'Initialize Workspace',
  );
  if (choice) await executeKeelCommand('keel.initWorkspace');
  return false;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function describeInit(result: InitResult): string {
  const made = [...result.created, ...(result.gitInitialized ? ['a git repository'] : [])];
  const base =
    made.length > 0
      ? `Keel workspace initialized: created ${made.join(', ')}.`
      : 'This folder already is a Keel workspace; nothing was changed.';
  return [base, ...result.warnings].join(' ');
}
