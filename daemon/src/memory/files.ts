/** The files the memory plane indexes, found by walking the workspace, and their content ids. */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import { join, sep } from 'node:path';
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

/** Files looked at in a row by the walk before the event loop gets a turn (about a millisecond). */
const WALK_TURN_FILES = 256;

/**
 * Every indexable file under `root` (or only under its folder `under`, workspace-relative) with its
 * size and time. Symlinks are not followed. The folders are listed and the files looked at without
 * promises (18,102 notes: 685 ms of the main thread through promises), with a turn for the event
 * loop every WALK_TURN_FILES files.
 */
export async function walkWorkspace(root: string, under = ''): Promise<Map<string, FileStat>> {
  const found = new Map<string, FileStat>();
  // Folders to list, workspace-relative ('' for the root).
  const pending: string[] = [under];
  let sinceTurn = 0;
  while (pending.length > 0) {
    const folder = pending.pop()!;
    const dir = folder === '' ? root : join(root, folder);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // Vanished or unreadable while walking: the next scan sees it again.
    }
    const indexable = isIndexableFolder(folder);
    for (const entry of entries) {
      const path = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!isIgnoredDir(entry.name)) pending.push(path);
        continue;
      }
      if (!indexable || !entry.isFile() || !isIndexableIn(folder, entry.name)) continue;
      if (++sinceTurn >= WALK_TURN_FILES) {
        await setImmediate();
        sinceTurn = 0;
      }
      const stat = lstatOrNull(`${dir}${sep}${entry.name}`);
      if (stat?.isFile()) found.set(path, { size: stat.size, mtimeMs: stat.mtimeMs });
    }
  }
  return found;
}

/** The file's lstat, or null when it vanished or cannot be looked at (the next scan sees it again). */
function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

export { gitBlobId } from '../files/gitBlob';
