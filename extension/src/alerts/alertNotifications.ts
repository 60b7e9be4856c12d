/**
 * Shows the editor's alerts (editorAlerts.ts) as notifications with one button: the run's trace
 * for an escalation, the dashboard (breakers and quotas) for governance.
 */
import * as vscode from 'vscode';
import { ControlChangedNotification, ControlStateRequest, type RunSummary } from '@keel/schemas';
import { DashboardViewProvider } from '../dashboard/dashboardView';
import type { RunsContext } from '../runs/runActions';
import { EditorAlerts, type EditorAlert } from './editorAlerts';

export interface AlertNotifications extends vscode.Disposable {
  /** A run not started from this window changed. */
  runChanged(run: RunSummary): void;
}

export function alertNotifications(context: RunsContext): AlertNotifications {
  const alerts = new EditorAlerts();
  const show = async (alert: EditorAlert): Promise<void> => {
    const chosen = await vscode.window.showWarningMessage(alert.message, alert.action.label);
    if (chosen === undefined) return;
    if (alert.action.label === 'Show Trace') {
      const id = alert.action.runId;
      await context.trace.show(context.store.run(id) ?? { id, runbook: 'run' });
    } else {
      await vscode.commands.executeCommand(`${DashboardViewProvider.viewId}.focus`);
    }
  };
  let connected = false;
  const disposable = vscode.Disposable.from(
    context.client.onNotification(ControlChangedNotification, (control) => {
      for (const alert of alerts.controlChanged(control)) void show(alert);
    }),
    context.client.onDidChange((snapshot) => {
      const running = snapshot.connection === 'running';
      if (running && !connected) {
        // What stands when the editor connects is shown by the sidebar and dashboard, not as news.
        context.client.request(ControlStateRequest).then(
          (control) => alerts.controlChanged(control),
          () => undefined,
        );
      }
      if (!running) alerts.disconnected();
      connected = running;
    }),
  );
  return {
    runChanged: (run) => {
      const alert = alerts.runChanged(run, false);
      if (alert) void show(alert);
    },
    dispose: () => {
      disposable.dispose();
    },
  };
}
