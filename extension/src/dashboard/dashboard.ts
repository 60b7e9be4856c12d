/** The Dashboard wired up: its feed, its view, and the emergency stop's commands. */
import * as vscode from 'vscode';
import type { DashboardSnapshot } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import type { RunsStore } from '../runs/runsStore';
import { DashboardFeed } from './dashboardFeed';
import { DASHBOARD_DAYS, localDay } from './dashboardModel';
import { DashboardViewProvider } from './dashboardView';
import { registerEmergencyCommands } from './emergencyStop';

export function registerDashboard(
  extensionUri: vscode.Uri,
  client: DaemonClient | null,
  store: RunsStore | null,
  output: vscode.LogOutputChannel,
): vscode.Disposable[] {
  const feed = client && store ? new DashboardFeed(client, store) : null;
  const view = new DashboardViewProvider(
    extensionUri,
    () => feed?.snapshot ?? noFolder(),
    (visible) => feed?.setVisible(visible),
    output,
  );
  return [
    view,
    vscode.window.registerWebviewViewProvider(DashboardViewProvider.viewId, view),
    ...(feed ? [feed, feed.onDidChange((snapshot) => view.show(snapshot))] : []),
    ...registerEmergencyCommands({
      client,
      output,
      busy: (action) => view.setBusy(action),
      applied: (control) => feed?.applyControl(control),
    }),
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
