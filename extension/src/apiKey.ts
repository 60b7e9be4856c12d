/**
 * The model API key lives in the editor's secret storage (the OS keychain where there is one), one
 * per endpoint origin, and the daemon gets the one for its endpoint over the protocol after every
 * start. A key is never written to a file or a log, and never sent to another origin than the one
 * the operator stored it for: a workspace that names another endpoint gets no key.
 */
import * as vscode from 'vscode';
import { TrustStateRequest } from '@keel/schemas';
import type { ApiKeySource, DaemonClient } from './daemonClient';
import { apiKeySecretName, isApiKeySecretName, modelsOrigin, UNSCOPED_KEY_SECRET } from './trust/trustModel';
import { executeKeelCommand } from './executeKeelCommand';

export function apiKeySource(secrets: vscode.SecretStorage): ApiKeySource {
  return (origin) => secrets.get(apiKeySecretName(origin));
}

/** Hands a key stored or replaced (here or in another window) to the running daemon. */
export function sendKeyOnChange(secrets: vscode.SecretStorage, client: DaemonClient): vscode.Disposable {
  return secrets.onDidChange((event) => {
    if (isApiKeySecretName(event.key) && client.state.connection === 'running') void client.sendApiKey();
  });
}

/** Keel: Set Model API Key, for the origin of the endpoint keel.yaml names. Esc keeps the current key. */
export async function askForApiKey(secrets: vscode.SecretStorage, client: DaemonClient): Promise<void> {
  await client.start();
  if (client.state.connection !== 'running') {
    void vscode.window.showWarningMessage(
      'Keel: the daemon is not running, so Keel cannot tell which endpoint the key is for. Run "Keel: Restart Daemon" first.',
    );
    return;
  }
  const origin = modelsOrigin(await client.request(TrustStateRequest));
  if (!origin) {
    void vscode.window.showWarningMessage(
      'Keel: keel.yaml names no model endpoint (models.endpoint.baseUrl), so there is no endpoint to keep a key for.',
    );
    return;
  }
  const key = await vscode.window.showInputBox({
    title: `Keel: Set Model API Key for ${origin}`,
    prompt: `The key of the model endpoint ${origin}, which keel.yaml names. Keel sends it to ${origin} only. Kept in the editor’s secret storage, never in a file or a log.`,
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) =>
      value.trim() === '' ? 'Paste a key, or press Esc to keep the current one.' : undefined,
  });
  if (key === undefined) return;
  await secrets.store(apiKeySecretName(origin), key.trim());
  // A key from before keys were tied to an origin is never sent; once replaced, drop it.
  await secrets.delete(UNSCOPED_KEY_SECRET);
  void vscode.window.showInformationMessage(
    `Keel: model API key saved in the editor’s secret storage, for ${origin}. Keel sends it to ${origin} only.`,
  );
}

/**
 * A key saved before keys were tied to an endpoint is not sent anywhere: say so once, and offer to
 * set it again for the endpoint keel.yaml names.
 */
export async function askAgainForUnscopedKey(
  secrets: vscode.SecretStorage,
  client: DaemonClient,
): Promise<void> {
  if (!vscode.workspace.isTrusted || !(await secrets.get(UNSCOPED_KEY_SECRET))) return;
  const origin = modelsOrigin(client.state.daemon?.trust);
  if (!origin || (await secrets.get(apiKeySecretName(origin)))) return;
  const choice = await vscode.window.showInformationMessage(
    `Keel: your model API key was saved without naming its endpoint, so Keel no longer sends it anywhere. Set it again for ${origin}?`,
    'Set Model API Key',
  );
  if (choice) await executeKeelCommand('keel.setApiKey');
}
