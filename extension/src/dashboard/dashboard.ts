/** The Dashboard wired up: its feed from the folder's session, its view, and the emergency stop's commands. */
import * as vscode from 'vscode';
import type { DashboardSnapshot } from '@keel/schemas/src/webviews';
import type { KeelSession } from '../session';
import { DashboardFeed } from './dashboardFeed';
import { DASHBOARD_DAYS, localDay } from './dashboardModel';
import { DashboardViewProvider } from './dashboardView';
import { registerEmergencyCommands, registerEmergencyCommandsWithoutFolder } from './emergencyStop';

export function registerDashboard(extensionUri: vscode.Uri, session: KeelSession): vscode.Disposable[] {
  const { client, output } = session;
  const feed = new DashboardFeed(client, session.runs.store);
  const view = new DashboardViewProvider(
    extensionUri,
    () => feed.snapshot,
    (visible) => feed.setVisible(visible),
    output,
  );
  return [
    view,
    vscode.window.registerWebviewViewProvider(DashboardViewProvider.viewId, view),
    feed,
    feed.onDidChange((snapshot) => view.show(snapshot)),
    ...registerEmergencyCommands({
      client,
      output,
      busy: (action) => view.setBusy(action),
      applied: (control) => feed.applyControl(control),
    }),
  ];
}

/** Without a folder the Dashboard says to open one, and so do its commands. */
export function registerDashboardWithoutFolder(
  extensionUri: vscode.Uri,
  output: vscode.LogOutputChannel,
): vscode.Disposable[] {
  const view = new DashboardViewProvider(extensionUri, noFolder, () => undefined, output);
  return [
    view,
    vscode.window.registerWebviewViewProvider(DashboardViewProvider.viewId, view),
    ...registerEmergencyCommandsWithoutFolder(),
  ];
}

function noFolder(): DashboardSnapshot {
  return {
    connection: 'noFolder',
    control: null,
    report: null,
    days: DASHBOARD_DAYS,
    today: localDay(new Date()),
    pendingApprovals: null,
    runs: [],
    index: null,
    staleRuns: null,
    evals: null,
    advice: null,
    error: null,
  };
}
