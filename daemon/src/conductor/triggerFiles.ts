/**
 * Watches the workspace for the files `fileChanged` triggers name (chokidar, only the folders their
 * globs can reach) and reports each change once it has settled: no event for the path for
 * `settleMs`, so a burst of saves is one change. Files Keel wrote itself are never reported.
 */
import { readFile, stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import picomatch from 'picomatch';
import type { Logger } from '../log';
import { isOwnWrite, mayBeOwnWrite } from '../files/ownWrites';

/** Never watched: version control, Keel's own state, dependencies. */
const EXCLUDED_DIRS = new Set(['.git', '.keel', 'node_modules']);

export interface FileChangeWatcherOptions {
  root: string;
  /** Workspace-relative globs. */
  globs: string[];
  settleMs: number;
  log: Logger;
  /** A matching file changed and settled (workspace-relative, forward slashes). */
  onSettled: (path: string) => void;
}

export class FileChangeWatcher {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly options: FileChangeWatcherOptions,
    private readonly watcher: FSWatcher,
  ) {}

  static async start(options: FileChangeWatcherOptions): Promise<FileChangeWatcher> {
    const { root, globs } = options;
    const rel = (path: string): string => relative(root, path).split(sep).join('/');
    const matches = picomatch(globs, { dot: true });
    const bases = globs.map((glob) => picomatch.scan(glob).base.replace(/\/+$/, ''));
    // A folder is worth watching when a glob's fixed part leads into it, or it into that part.
    const reachable = (dir: string): boolean =>
      bases.some(
        (base) => base === '' || base === dir || base.startsWith(`${dir}/`) || dir.startsWith(`${base}/`),
      );
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      atomic: true,
      ignored: (path, stats) => {
        const relativePath = rel(path);
        if (relativePath === '') return false;
        const parts = relativePath.split('/');
        if (parts.some((part) => EXCLUDED_DIRS.has(part))) return true;
        if (stats?.isDirectory()) return !reachable(relativePath);
        if (stats?.isFile()) return !matches(relativePath);
        return !matches(relativePath) && !reachable(relativePath);
      },
    });
    const self = new FileChangeWatcher(options, watcher);
    const onFile = (path: string): void => {
      const relativePath = rel(path);
      if (matches(relativePath)) self.changed(path, relativePath);
    };
    watcher.on('add', onFile).on('change', onFile);
    watcher.on('error', (error) => options.log.warn('watching files for triggers failed', { error }));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return self;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.watcher.close();
  }

  private changed(absolutePath: string, relativePath: string): void {
    const pending = this.timers.get(absolutePath);
    if (pending) clearTimeout(pending);
    this.timers.set(
      absolutePath,
      setTimeout(() => {
        this.timers.delete(absolutePath);
        void this.settled(absolutePath, relativePath);
      }, this.options.settleMs),
    );
  }

  private async settled(absolutePath: string, relativePath: string): Promise<void> {
    // Gone again (a temporary file, a save undone): nothing to run on.
    if (!(await stat(absolutePath).catch(() => null))?.isFile()) return;
    if (mayBeOwnWrite(absolutePath)) {
      const content = await readFile(absolutePath).catch(() => null);
      if (content && isOwnWrite(absolutePath, content)) {
        this.options.log.debug('a file Keel wrote changed; no trigger fires', { path: relativePath });
        return;
      }
    }
    if (this.closed) return;
    this.options.onSettled(relativePath);
  }
}
