/** Opens a note a run read, at its line, from a run's timeline or the approval inbox. */
import * as vscode from 'vscode';
import { notePathInWorkspace } from './notePath';

/** The path comes from a run's journal: one that would leave the workspace is refused, in words. */
export async function openNoteAt(folder: string, path: string, line: number): Promise<void> {
  const file = notePathInWorkspace(folder, path);
  if (file === null) {
    throw new Error(`the run names ${path}, which is outside the workspace; it was not opened.`);
  }
  const position = new vscode.Position(line - 1, 0);
  await vscode.window.showTextDocument(vscode.Uri.file(file), {
    selection: new vscode.Range(position, position),
    preview: false,
  });
}
