/** Keel: Check Connectors: probes now and says how each one stands, naming what to fix. */
import * as vscode from 'vscode';
import { connectorState } from './connectorList';
import type { ConnectorsStore } from './connectorsStore';

export async function checkConnectors(store: ConnectorsStore, name?: string): Promise<void> {
  const checked = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: name ? `Keel: checking the connector "${name}"…` : 'Keel: checking the connectors…',
    },
    () => store.check(name),
  );
  if (checked.length === 0) {
    void vscode.window.showInformationMessage('Keel: keel.yaml names no connectors.');
    return;
  }
  const failing = checked.filter((c) => c.state !== 'ready');
  if (failing.length === 0) {
    void vscode.window.showInformationMessage(
      `Keel: ${checked.map((c) => c.name).join(', ')} ${checked.length === 1 ? 'is' : 'are'} ready.`,
    );
    return;
  }
  const lines = failing.map(
    (c) => `${c.name}: ${connectorState(c)}${c.lastError ? ` (${c.lastError})` : ''}`,
  );
  void vscode.window.showWarningMessage(`Keel: ${lines.join('; ')}`);
}
