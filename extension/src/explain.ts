/**
 * What Keel answers when it cannot do what was asked: no folder is open, or the workspace is in
 * Restricted Mode. Commands, the sidebar and the emergency stop give the same words.
 */
import * as vscode from 'vscode';

/** The answer of every command without a folder (but those that work without one). */
export async function askForFolder(): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    'Keel works on a folder: open one first.',
    'Open Folder',
  );
  if (choice) await vscode.commands.executeCommand('vscode.openFolder');
}

/** Restricted Mode's answer to a command it disables. */
export async function explainRestrictedMode(): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    'Keel: this workspace is in Restricted Mode. Keel indexes and searches it locally but sends nothing and runs nothing until you trust it.',
    'Manage Workspace Trust',
  );
  if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
}
