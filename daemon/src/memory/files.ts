/** The files the memory plane indexes, found by walking the workspace, and their content ids. */
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileKind } from './parse/index';

export interface FileStat {
  size: number;
  mtimeMs: number;
}

/** Folders never indexed: hidden ones (`.git`, `.keel`, `.vscode`) and dependency trees. */
export function isIgnoredDir(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

/** Whether a workspace-relative path is one the index holds: Markdown or YAML, outside ignored folders. */
export function isIndexable(relativePath: string): boolean {
  const slash = relativePath.lastIndexOf('/');
  const folder = slash >= 0 ? relativePath.slice(0, slash) : '';
  return isIndexableFolder(folder) && isIndexableIn(folder, relativePath.slice(slash + 1));
}

/** Whether files right in `folder` (workspace-relative, '' for the root) may be indexed at all. */
export function isIndexableFolder(folder: string): boolean {
  if (folder.startsWith('..')) return false;
  return folder === '' || !folder.split('/').some(isIgnoredDir);
}

/**
 * Whether the file `name` in an indexable `folder` is one the index holds: isIndexable with the
 * folder checked once, for listing a folder of thousands of notes.
 */
export function isIndexableIn(folder: string, name: string): boolean {
  // keel.yaml is the workspace's configuration, not memory.
  if (folder === '' && name === 'keel.yaml') return false;
  return !name.startsWith('.') && fileKind(name) !== null;
}

export function toWorkspacePath(root: string, absolute: string): string {
  return relative(root, absolute).split(sep).join('/');
}

/**
 * Every indexable file under `root` (or only under its folder `under`, workspace-relative) with its
 * size and time. Symlinks are not followed.
 */
export async function walkWorkspace(root: string, under = ''): Promise<Map<string, FileStat>> {
  const found = new Map<string, FileStat>();
  const pending: string[] = [under === '' ? root : join(root, under)];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue; // Vanished or unreadable while walking: the next scan sees it again.
    }
    const files: string[] = [];
    for (const entry of entries) {
      if (entry.isDirectory()) {
        if (!isIgnoredDir(entry.name)) pending.push(join(dir, entry.name));
      } else if (entry.isFile()) {
        const path = toWorkspacePath(root, join(dir, entry.name));
        if (isIndexable(path)) files.push(path);
      }
    }
    const stats = await Promise.all(files.map((path) => lstat(join(root, path)).catch(() => null)));
    files.forEach((path, i) => {
      const stat = stats[i];
      if (stat?.isFile()) found.set(path, { size: stat.size, mtimeMs: stat.mtimeMs });
    });
  }
  return found;
}

export { gitBlobId } from '../files/gitBlob';
