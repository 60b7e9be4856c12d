/**
 * Every command Keel contributes, by id, in one place that does not import `vscode`: the handlers'
 * tables (commands.ts, dashboard/emergencyStop.ts) are typed by these ids, code that runs a command
 * names it through them, and test/unit/commandIds.test.ts, which runs in plain Node, checks them
 * against package.json (`contributes.commands`, and every menu, keybinding and walkthrough naming
 * one). A command added here without a handler, or a handler for an id not here, does not compile.
 */

/** Registered from commands.ts's table; each needs at most the workspace's session. */
export const WORKSPACE_COMMANDS = [
  'keel.initWorkspace',
  'keel.restartDaemon',
  'keel.searchMemory',
  'keel.searchMemoryAsOf',
  'keel.runRunbook',
  'keel.showRunTrace',
  'keel.showRunTraceMarkdown',
  'keel.showNoteRuns',
  'keel.rerunRun',
  'keel.takeOverRun',
  'keel.supplyStepOutput',
  'keel.confirmStepOutput',
  'keel.answerCheckpoint',
  'keel.openProposal',
  'keel.approveProposal',
  'keel.editProposal',
  'keel.rejectProposal',
  'keel.openApprovalInbox',
  'keel.setApiKey',
  'keel.setConnectorSecret',
  'keel.checkConnectors',
  'keel.reviewTrust',
  'keel.showLogs',
] as const;

/** Registered with the Dashboard (dashboard/emergencyStop.ts), whose buttons show them under way. */
export const EMERGENCY_STOP_COMMANDS = ['keel.emergencyStop', 'keel.resume'] as const;

export type WorkspaceCommand = (typeof WORKSPACE_COMMANDS)[number];
export type EmergencyStopCommand = (typeof EMERGENCY_STOP_COMMANDS)[number];
export type KeelCommand = WorkspaceCommand | EmergencyStopCommand;

export const KEEL_COMMANDS: readonly KeelCommand[] = [...WORKSPACE_COMMANDS, ...EMERGENCY_STOP_COMMANDS];

/**
 * What Restricted Mode disables: running, approving, and handing over keys. package.json gives
 * exactly these `"enablement": "isWorkspaceTrusted"` (the unit test holds the two together); the
 * registration checks again for callers that bypass the enablement (links, the sidebar's buttons).
 */
export const TRUSTED_ONLY: ReadonlySet<KeelCommand> = new Set<KeelCommand>([
  'keel.runRunbook',
  'keel.rerunRun',
  'keel.takeOverRun',
  'keel.supplyStepOutput',
  'keel.confirmStepOutput',
  'keel.answerCheckpoint',
  'keel.approveProposal',
  'keel.editProposal',
  'keel.rejectProposal',
  'keel.setApiKey',
  'keel.setConnectorSecret',
  'keel.checkConnectors',
]);

/**
 * VS Code's own command that shows the Keel sidebar: it makes `<view id>.focus` for every view a
 * manifest contributes, and the sidebar's view id is `keel.sidebar` (sidebar/sidebarView.ts).
 */
export const FOCUS_SIDEBAR = 'keel.sidebar.focus';

/** A `command:` link (a document link, a markdown button) that runs one of Keel's commands with `args`. */
export function commandLink(id: KeelCommand, args: readonly unknown[]): string {
  return `command:${id}?${encodeURIComponent(JSON.stringify(args))}`;
}
