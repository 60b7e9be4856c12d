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
  if (relativePath.length === 0 || relativePath.startsWith('..')) return false;
  const parts = relativePath.split('/');
  if (parts.slice(0, -1).some(isIgnoredDir)) return false;
  // keel.yaml is the workspace's configuration, not memory.
  if (relativePath === 'keel.yaml') return false;
  return isIndexableName(parts.at(-1) ?? '');
}

/** Whether a file's own name (in a folder the index reads) is one the index holds. */
export function isIndexableName(name: string): boolean {
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
