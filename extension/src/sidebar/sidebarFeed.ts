/**
 * Keeps the sidebar and the status bar current: the session's state, approvals, runbooks, runs and
 * connectors, sent whenever the session says they changed, or, without a folder, the invitation to
 * open one.
 */
import * as vscode from 'vscode';
import type { HostToWebviewMessage, SidebarState } from '@keel/schemas/src/webviews';
import type { KeelSession } from '../session';
import { composeSidebarState } from './sidebarState';
import type { SidebarViewProvider } from './sidebarView';
import type { StatusBar } from './statusBar';

/** Shows `state` on the status bar and the sidebar, and in the `keel.connection` context key. */
export function showState(
  state: SidebarState,
  waitingApprovals: number,
  statusBar: StatusBar,
  sidebar: SidebarViewProvider,
): void {
  statusBar.render(state, waitingApprovals);
  sidebar.post({ type: 'state', state });
  void vscode.commands.executeCommand('setContext', 'keel.connection', state.connection);
}

export function sessionState({ folder, tracker, client }: KeelSession): SidebarState {
  return composeSidebarState(folder, tracker.initialized, client.state, vscode.workspace.isTrusted);
}

/** Everything the sidebar shows, sent whenever its webview (re)loads. */
export function sidebarSnapshot(session: KeelSession): HostToWebviewMessage[] {
  return [
    { type: 'state', state: sessionState(session) },
    approvalsMessage(session),
    runbooksMessage(session),
    runsMessage(session),
    connectorsMessage(session),
  ];
}

/** Sends each change to the sidebar; `render` shows the state again (showState). */
export function feedSidebar(
  session: KeelSession,
  sidebar: SidebarViewProvider,
  render: () => void,
): vscode.Disposable[] {
  const { client, tracker, runs, approvals, connectors } = session;
  return [
    client.onDidChange(render),
    runs.store.onDidChangeRunbooks(() => sidebar.post(runbooksMessage(session))),
    runs.store.onDidChangeRuns(() => sidebar.post(runsMessage(session))),
    approvals.store.onDidChange(() => {
      sidebar.post(approvalsMessage(session));
      sidebar.setWaitingApprovals(approvals.store.waiting);
      render();
    }),
    connectors.onDidChange(() => sidebar.post(connectorsMessage(session))),
    tracker.onDidChange(render),
  ];
}

function approvalsMessage({ approvals }: KeelSession): HostToWebviewMessage {
  return { type: 'approvals', ...approvals.store.approvals };
}

function runbooksMessage({ runs }: KeelSession): HostToWebviewMessage {
  return { type: 'runbooks', ...runs.store.runbooks };
}

function runsMessage({ runs }: KeelSession): HostToWebviewMessage {
  return { type: 'runs', ...runs.store.runs };
}

function connectorsMessage({ connectors }: KeelSession): HostToWebviewMessage {
  return { type: 'connectors', ...connectors.connectors };
}
