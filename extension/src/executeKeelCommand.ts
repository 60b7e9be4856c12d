/**
 * Runs one of Keel's own commands. `vscode.commands.executeCommand` takes any string, so a misspelt
 * or removed id would only fail when clicked; this takes a KeelCommand, so it fails to compile.
 */
import * as vscode from 'vscode';
import type { KeelCommand } from './commandIds';

export function executeKeelCommand(id: KeelCommand, ...args: unknown[]): Thenable<unknown> {
  return vscode.commands.executeCommand(id, ...args);
}
