/** Whether the open folder is a Keel workspace (has a keel.yaml), kept current as files change. */
import * as vscode from 'vscode';
import { CONFIG_FILE } from '@keel/schemas';

export class WorkspaceTracker implements vscode.Disposable {
  private current = false;
  private readonly watcher: vscode.FileSystemWatcher;
  private readonly changed = new vscode.EventEmitter<boolean>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly folder: string) {
    this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, CONFIG_FILE));
    this.watcher.onDidCreate(() => void this.refresh());
    this.watcher.onDidDelete(() => void this.refresh());
  }

  get initialized(): boolean {
    return this.current;
  }

  async refresh(): Promise<boolean> {
    const exists = await vscode.workspace.fs.stat(vscode.Uri.file(`${this.folder}/${CONFIG_FILE}`)).then(
      () => true,
      () => false,
    );
    if (exists !== this.current) {
      this.current = exists;
      this.changed.fire(exists);
    }
    return exists;
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
  }
}
