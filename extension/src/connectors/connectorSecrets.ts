/**
 * Connector credentials in the editor's secret storage (the OS keychain where there is one), one
 * per workspace folder, connector and credential, for keel.yaml entries that say
 * `credentials: { password: { secret: true } }`. "Keel: Set Connector Secret" stores one and hands
 * it to the running daemon; every daemon start gets them all again (DaemonClient calls
 * `handOverConnectorSecrets` in connectorHandOver.ts). A value is never written to a file or a log; the daemon sends it only
 * to servers the operator trusted (keel.yaml changing them asks for trust again).
 */
import * as vscode from 'vscode';
import { ConnectorsListRequest, type ConnectorInfo } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { connectorSecretKey, connectorState } from './connectorList';
import type { ConnectorSecretSource } from './connectorHandOver';

/** Shorter values are refused by the daemon (too short to redact from its logs); said here first. */
const MIN_LENGTH = 8;

export function connectorSecretSource(secrets: vscode.SecretStorage, folder: string): ConnectorSecretSource {
  return (connector, credential) => secrets.get(connectorSecretKey(folder, connector, credential));
}

/** Keel: Set Connector Secret: picks the connector and credential, asks for the value, stores and sends it. */
export async function askForConnectorSecret(
  secrets: vscode.SecretStorage,
  folder: string,
  client: DaemonClient,
  connectorName?: string,
): Promise<void> {
  const { connectors } = await client.request(ConnectorsListRequest);
  const wanting = connectors.filter((c) => c.credentials.some((cred) => cred.from === 'secret'));
  if (wanting.length === 0) {
    void vscode.window.showInformationMessage(
      'Keel: no connector in keel.yaml reads a credential from the editor’s secret storage. ' +
        'Name one with "credentials: { password: { secret: true } }" under its entry.',
    );
    return;
  }
  const connector = await pickConnector(wanting, connectorName);
  if (!connector) return;
  const credential = await pickCredential(connector);
  if (!credential) return;
  const value = await vscode.window.showInputBox({
    title: `Keel: Set Connector Secret: ${connector.name} ${credential}`,
    prompt: `The ${credential} of the connector "${connector.name}" (${connector.use}). Kept in the editor’s secret storage for this workspace, never in a file or a log; sent only to servers you trusted.`,
    password: true,
    ignoreFocusOut: true,
    validateInput: (text) =>
      text.trim().length < MIN_LENGTH
        ? `At least ${MIN_LENGTH} characters (shorter values cannot be kept out of logs), or Esc to keep the current one.`
        : undefined,
  });
  if (value === undefined) return;
  await secrets.store(connectorSecretKey(folder, connector.name, credential), value.trim());
  await client.sendConnectorSecret(connector.name, credential, value.trim());
  void vscode.window.showInformationMessage(
    `Keel: saved the ${credential} of "${connector.name}" in the editor’s secret storage and handed it to the daemon.`,
  );
}

async function pickConnector(
  wanting: ConnectorInfo[],
  name: string | undefined,
): Promise<ConnectorInfo | undefined> {
  const named = name === undefined ? undefined : wanting.find((c) => c.name === name);
  if (named || wanting.length === 1) return named ?? wanting[0];
  const picked = await vscode.window.showQuickPick(
    wanting.map((c) => ({ label: c.name, description: c.use, detail: connectorState(c), connector: c })),
    { title: 'Keel: Set Connector Secret', placeHolder: 'Which connector?' },
  );
  return picked?.connector;
}

async function pickCredential(connector: ConnectorInfo): Promise<string | undefined> {
  const names = connector.credentials.filter((c) => c.from === 'secret').map((c) => c.name);
  if (names.length === 1) return names[0];
  return vscode.window.showQuickPick(names, {
    title: `Keel: Set Connector Secret: ${connector.name}`,
    placeHolder: 'Which credential?',
  });
}
