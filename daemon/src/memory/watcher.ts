/**
 * Watches the workspace for changes to indexable files (chokidar). Events are hints, not facts:
 * the writer re-reads and hashes every path it is given, and periodic rescans catch what is missed.
 */
import { watch, type FSWatcher } from 'chokidar';
import { relative, sep } from 'node:path';
import type { Logger } from '../log';
import { isIgnoredDir, isIndexable } from './files';

export interface WorkspaceWatcherEvents {
  /** Files that may have changed, appeared or vanished (workspace-relative). */
  changed(paths: string[]): void;
  /** A folder vanished: every indexed file under it is gone. */
  folderRemoved(prefix: string): void;
  /**
   * A folder appeared. chokidar lists a new folder before it watches it, so a file created in
   * between raises no event: the listener reads the folder again once it is watched.
   */
  folderAdded(folder: string): void;
}

export class WorkspaceWatcher {
  private constructor(private readonly watcher: FSWatcher) {}

  static async start(root: string, events: WorkspaceWatcherEvents, log: Logger): Promise<WorkspaceWatcher> {
    const rel = (path: string): string => relative(root, path).split(sep).join('/');
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      // A save by rename (write a temp file, rename it over) is one change, not an unlink and an add.
      atomic: true,
      ignored: (path, stats) => {
        const relativePath = rel(path);
        if (relativePath === '') return false;
        const parts = relativePath.split('/');
        if (parts.slice(0, -1).some(isIgnoredDir)) return true;
        if (stats?.isDirectory()) return isIgnoredDir(parts.at(-1)!);
        return stats?.isFile() === true && !isIndexable(relativePath);
      },
    });
    const onFile = (path: string): void => {
      const relativePath = rel(path);
      if (isIndexable(relativePath)) events.changed([relativePath]);
    };
    watcher.on('add', onFile).on('change', onFile).on('unlink', onFile);
    watcher.on('unlinkDir', (path) => events.folderRemoved(rel(path) + '/'));
    watcher.on('addDir', (path) => {
      const folder = rel(path);
      if (folder !== '') events.folderAdded(folder);
    });
    watcher.on('error', (error) =>
      log.warn('file watching failed; periodic rescans still find changes', { error }),
    );
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return new WorkspaceWatcher(watcher);
  }

  async close(): Promise<void> {
    await this.watcher.close();
  }
}
