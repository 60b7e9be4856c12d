/**
 * Watches the workspace for changes to indexable files: one `fs.watch` per folder, each event
 * naming the file that changed. Events are hints, not facts: the writer re-reads and hashes every
 * path it is given, and the reconciler (soon after events) and periodic rescans catch what is missed.
 *
 * Not chokidar: on every event in a folder it lists that folder again and lstats each entry (at
 * most once a second per folder). With ~10 saves a second into folders of 2,000-3,000 notes that
 * was a third of the daemon's main thread (CPU profile of `npm run bench -- --only concurrency`),
 * and every search waited behind it. Here an event costs nothing, a new name one lstat.
 */
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log';
import { isIgnoredDir, isIndexable } from './files';

export interface WorkspaceWatcherEvents {
  /** Files that may have changed, appeared or vanished (workspace-relative). */
  changed(paths: string[]): void;
  /** A folder vanished: every indexed file under it is gone. */
  folderRemoved(prefix: string): void;
  /**
   * A folder appeared (workspace-relative, no trailing slash). Files written into it before its
   * watch started send no event, so it must be listed again.
   */
  folderAdded(folder: string): void;
}

export class WorkspaceWatcher {
  /** Watched folders, workspace-relative ('' is the root). */
  private readonly folders = new Map<string, FSWatcher>();
  private closed = false;
  private warned = false;

  private constructor(
    private readonly root: string,
    private readonly events: WorkspaceWatcherEvents,
    private readonly log: Logger,
  ) {}

  static async start(root: string, events: WorkspaceWatcherEvents, log: Logger): Promise<WorkspaceWatcher> {
    const watcher = new WorkspaceWatcher(root, events, log);
    await watcher.watchTree('', false);
    return watcher;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const folder of this.folders.values()) folder.close();
    this.folders.clear();
    return Promise.resolve();
  }

  /** Watches `folder` and every folder under it (each before it is listed, so nothing slips by). */
  private async watchTree(folder: string, announce: boolean): Promise<void> {
    const pending = [folder];
    while (pending.length > 0 && !this.closed) {
      const dir = pending.pop()!;
      if (this.folders.has(dir) || !this.watchFolder(dir)) continue;
      if (announce) this.events.folderAdded(dir);
      let entries;
      try {
        entries = await readdir(join(this.root, dir), { withFileTypes: true });
      } catch {
        continue; // gone meanwhile: its parent's event reports it
      }
      for (const entry of entries) {
        if (entry.isDirectory() && !isIgnoredDir(entry.name)) pending.push(child(dir, entry.name));
      }
    }
  }

  private watchFolder(dir: string): boolean {
    let watcher: FSWatcher;
    try {
      watcher = watch(join(this.root, dir), (type, name) => this.onEvent(dir, type, name));
    } catch (error) {
      // Out of inotify watches (ENOSPC), or the folder vanished: rescans still find its changes.
      if (!this.warned) this.log.warn('cannot watch a folder; relying on rescans', { folder: dir, error });
      this.warned = true;
      return false;
    }
    watcher.on('error', () => this.unwatch(dir));
    this.folders.set(dir, watcher);
    return true;
  }

  private unwatch(prefix: string): void {
    for (const [dir, watcher] of this.folders) {
      if (dir === prefix || dir.startsWith(`${prefix}/`)) {
        watcher.close();
        this.folders.delete(dir);
      }
    }
  }

  private onEvent(dir: string, type: string, name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      this.events.folderAdded(dir); // which name changed is unknown: list the folder again
      return;
    }
    const path = child(dir, name.toString());
    if (this.folders.has(path)) {
      // A watched folder renamed or removed (its watch may now follow another place): start over.
      this.unwatch(path);
      this.events.folderRemoved(`${path}/`);
      void this.watchIfFolder(path);
      return;
    }
    if (type === 'rename') void this.watchIfFolder(path);
    else if (isIndexable(path)) this.events.changed([path]);
  }

  /** A name appeared or vanished: a new folder is watched and reported, anything else is a file. */
  private async watchIfFolder(path: string): Promise<void> {
    if (isIgnoredDir(path.slice(path.lastIndexOf('/') + 1))) {
      if (isIndexable(path)) this.events.changed([path]);
      return;
    }
    const stats = await lstat(join(this.root, path)).catch(() => null);
    if (this.closed) return;
    if (stats?.isDirectory()) await this.watchTree(path, true);
    else if (isIndexable(path)) this.events.changed([path]);
  }
}

function child(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
