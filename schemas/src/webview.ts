/**
 * Messages between the extension host and the Keel sidebar webview, as discriminated unions: the
 * host validates every message the webview sends, and the webview switches on `type`.
 */
import { z } from 'zod';
import { Proposal } from './protocol/approvals';
import { ConnectorInfo } from './protocol/connectors';
import { IndexStatus, SearchResult } from './protocol/memory';
import { RunbookInfo, RunSummary } from './protocol/runs';
import { DaemonStatus } from './protocol/status';

/** The extension's view of its daemon connection, which may be down while the daemon is not. */
export const ConnectionState = z.enum(['noFolder', 'starting', 'running', 'restarting', 'stopped', 'failed']);
export type ConnectionState = z.infer<typeof ConnectionState>;

export const SidebarState = z.object({
  connection: ConnectionState,
  /** The workspace folder the sidebar is about, or null when no folder is open. */
  folder: z.string().nullable(),
  /**
   * VS Code's Workspace Trust for the folder. In Restricted Mode Keel only indexes and searches,
   * whatever the operator decided in Keel's own trust (`daemon.trust`).
   */
  editorTrusted: z.boolean(),
  /** Whether the folder has a `keel.yaml`; the sidebar offers to initialize it when not. */
  initialized: z.boolean(),
  /** The daemon's last reported status while connected, else null. */
  daemon: DaemonStatus.unwrap().nullable(),
  /** Automatic restarts after crashes in the current window. */
  restarts: z.number().int().nonnegative(),
  /** When restarting, when the next attempt starts (ISO time). */
  nextRestartAt: z.iso.datetime().nullable(),
  /** What went wrong last, in words, or null. */
  lastError: z.string().nullable(),
  /** The memory index's last reported status while connected, else null. */
  index: IndexStatus.unwrap().nullable(),
});
export type SidebarState = z.infer<typeof SidebarState>;

export const HostToWebviewMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), state: SidebarState }),
  /** The answer to the sidebar's search `requestId`: results, or why there are none. */
  z.object({
    type: z.literal('searchResults'),
    requestId: z.number().int(),
    query: z.string(),
    results: z.array(SearchResult.unwrap()),
    error: z.string().nullable(),
  }),
  /** Every runbook in the workspace, valid or not, or why they could not be listed. */
  z.object({
    type: z.literal('runbooks'),
    runbooks: z.array(RunbookInfo.unwrap()),
    error: z.string().nullable(),
  }),
  /** The recent runs, most recent first; sent again whenever one of them changes. */
  z.object({ type: z.literal('runs'), runs: z.array(RunSummary.unwrap()), error: z.string().nullable() }),
  /** Scroll to a run the operator just started and mark it. */
  z.object({ type: z.literal('revealRun'), id: z.string().min(1) }),
  /** The proposals waiting for the operator (pending or stale), oldest first; sent again on every change. */
  z.object({
    type: z.literal('approvals'),
    approvals: z.array(Proposal.unwrap()),
    error: z.string().nullable(),
  }),
  /** The connectors keel.yaml names, with their standing; sent again whenever one changes. */
  z.object({
    type: z.literal('connectors'),
    connectors: z.array(ConnectorInfo.unwrap()),
    error: z.string().nullable(),
  }),
]);
export type HostToWebviewMessage = z.infer<typeof HostToWebviewMessage>;

export const WebviewToHostMessage = z.discriminatedUnion('type', [
  /** The webview has loaded and wants the current state. */
  z.object({ type: z.literal('ready') }),
  /** The webview received the host's first message: it loaded and listens, whether or not `ready` came. */
  z.object({ type: z.literal('loaded') }),
  z.object({ type: z.literal('initWorkspace') }),
  z.object({ type: z.literal('restartDaemon') }),
  z.object({ type: z.literal('showLogs') }),
  /** The emergency stop, from the sidebar's own button (the command asks to confirm). */
  z.object({ type: z.literal('emergencyStop') }),
  z.object({ type: z.literal('openFolder') }),
  /** VS Code's Workspace Trust dialog (Restricted Mode's way out). */
  z.object({ type: z.literal('manageWorkspaceTrust') }),
  /** Keel's consent prompt: what the workspace wants, to trust or not. */
  z.object({ type: z.literal('reviewTrust') }),
  /** Search memory from the sidebar's search box. */
  z.object({ type: z.literal('search'), requestId: z.number().int(), query: z.string().max(2_000) }),
  /** Open a workspace file at a 1-based line and column (a search result, a runbook's problem). */
  z.object({
    type: z.literal('openResult'),
    path: z.string().min(1),
    line: z.number().int().min(1),
    column: z.number().int().min(1).optional(),
  }),
  /** Ask the runbook's inputs, then start a run of it. */
  z.object({ type: z.literal('runRunbook'), runbook: z.string().min(1) }),
  z.object({ type: z.literal('cancelRun'), id: z.string().min(1) }),
  /** Pick the step a failed or cancelled run goes on from (or supply its output by hand). */
  z.object({ type: z.literal('takeOverRun'), id: z.string().min(1) }),
  /** Continue, edit or stop a run waiting at a checkpoint. */
  z.object({ type: z.literal('answerCheckpoint'), id: z.string().min(1) }),
  z.object({ type: z.literal('showRunTrace'), id: z.string().min(1) }),
  /** List the runbooks again (the Refresh button of the Runbooks section). */
  z.object({ type: z.literal('refreshRunbooks') }),
  /** Open the approval inbox: every waiting proposal with its context, decided from the keyboard. */
  z.object({ type: z.literal('openApprovalInbox') }),
  /** Show a proposal's diff: the file as it is now next to what the agent proposes. */
  z.object({ type: z.literal('openProposal'), id: z.string().min(1) }),
  /** Apply a proposal, with the operator's edits if they made any. */
  z.object({ type: z.literal('approveProposal'), id: z.string().min(1) }),
  /** Make the proposed side editable before approving. */
  z.object({ type: z.literal('editProposal'), id: z.string().min(1) }),
  /** Ask why, then reject the proposal with that reason. */
  z.object({ type: z.literal('rejectProposal'), id: z.string().min(1) }),
  /** Probe one connector now (the Connectors section's Check). */
  z.object({ type: z.literal('checkConnector'), name: z.string().min(1) }),
  /** Store one of the connector's credentials in the editor's secret storage (asks which and its value). */
  z.object({ type: z.literal('setConnectorSecret'), name: z.string().min(1) }),
]);
export type WebviewToHostMessage = z.infer<typeof WebviewToHostMessage>;
