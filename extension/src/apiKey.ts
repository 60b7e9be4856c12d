/**
 * The model API key lives in the editor's secret storage (the OS keychain where there is one), and
 * the daemon gets it over the protocol after every start. It is never written to a file or a log.
 */
import * as vscode from 'vscode';
import type { ApiKeySource, DaemonClient } from './daemonClient';

const SECRET_KEY = 'keel.modelApiKey';

export function apiKeySource(secrets: vscode.SecretStorage): ApiKeySource {
  return () => secrets.get(SECRET_KEY);
}

/** Hands a key stored or replaced (here or in another window) to the running daemon. */
export function sendKeyOnChange(secrets: vscode.SecretStorage, client: DaemonClient): vscode.Disposable {
  return secrets.onDidChange((event) => {
    if (event.key === SECRET_KEY && client.state.connection === 'running') void client.sendApiKey();
  });
}

/** Keel: Set Model API Key. Esc keeps the current key. */
export async function askForApiKey(secrets: vscode.SecretStorage): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'Keel: Set Model API Key',
    prompt:
      'The key of your OpenAI-compatible model endpoint. Kept in the editor’s secret storage, never in a file or a log.',
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) =>
      value.trim() === '' ? 'Paste a key, or press Esc to keep the current one.' : undefined,
  });
  if (key === undefined) return;
  await secrets.store(SECRET_KEY, key.trim());
  void vscode.window.showInformationMessage(
    'Keel: model API key saved in the editor’s secret storage. The daemon uses it for model calls.',
  );
}
