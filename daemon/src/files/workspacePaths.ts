/**
 * Every workspace path Keel reads or writes, resolved in one place. First the words: relative,
 * inside the workspace, never into a `.git/` folder at any depth. Then the file system, walked from
 * the workspace root without following a single symlink (`lstat` of each folder, `O_NOFOLLOW` on
 * the file), so a link committed into a cloned workspace (`memory/creds.md -> ~/.aws/credentials`,
 * `outbox -> ~/bin`, `.keel -> ~`) is refused instead of read or written through. Writes go through
 * a temporary file in `.keel/tmp/` (same file system, never beside the target) and a rename.
 * Not covered: a folder swapped for a link by another process between the check and the write
 * (Node has no `openat`); the check runs again just before each rename to keep that window small.
 * Likewise for reads between a folder's check and the file's open, a window that a synchronous
 * stretch of reads sharing its checks (`resolveInsideSync`'s `folders`) widens to that stretch.
 *
 * Comparisons ignore case and trailing dots and spaces, because the file systems of macOS and
 * Windows do: `KEEL.yaml` is keel.yaml there.
 */
import { randomBytes } from 'node:crypto';
import { constants, lstatSync, openSync, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';

/** A path Keel will not read or write, with the reason and what the operator can do. */
export class WorkspacePathError extends Error {
  constructor(
    /** The path as it was asked for. */
    readonly path: string,
    readonly reason: string,
    fix: string,
  ) {
    super(`Keel refuses "${path}": ${reason}. ${fix}`);
    this.name = 'WorkspacePathError';
  }
}

/**
 * Top-level paths an agent can only change with the operator's explicit approval, whatever the
 * approvals rules say: Keel's own settings and state, and what makes editors, CI, git or the shell
 * run programs (editor settings, workflows, attributes and submodules, direnv, dev containers).
 */
export const PROTECTED_PATHS = [
  '.vscode/',
  '.keel/',
  'keel.yaml',
  '.github/',
  '.gitattributes',
  '.gitmodules',
  '.envrc',
  '.devcontainer/',
];

/** Keel's own state folder in the workspace, and the folder of its temporary files. */
export const KEEL_DIR = '.keel';
export const KEEL_TMP = '.keel/tmp';

const USE_RELATIVE = 'Use a path relative to the workspace folder, such as memory/notes/a.md.';

/** The workspace-relative, forward-slash form of `path`; throws if it leaves the workspace or enters `.git/`. */
export function workspaceRelative(path: string): string {
  const cleaned = path.trim().replace(/\\/g, '/');
  if (cleaned === '' || isAbsolute(cleaned) || /^[a-zA-Z]:/.test(cleaned)) {
    throw new WorkspacePathError(path, 'it is not a path relative to the workspace', USE_RELATIVE);
  }
  // Git reads a leading ":" as pathspec magic (":/" is the whole repository): never a file name here.
  if (cleaned.startsWith(':')) {
    throw new WorkspacePathError(path, 'it is not a file name (":" is git pathspec magic)', USE_RELATIVE);
  }
  const normal = normalize(cleaned).split(sep).join('/').replace(/^\.\//, '').replace(/\/$/, '');
  if (normal === '..' || normal.startsWith('../') || normal === '.') {
    throw new WorkspacePathError(path, 'it points outside the workspace', USE_RELATIVE);
  }
  if (normal.split('/').some((segment) => canonical(segment) === '.git')) {
    throw new WorkspacePathError(
      path,
      'it is inside a .git/ folder, which Keel never reads or writes',
      'Change the repository with git itself.',
    );
  }
  return normal;
}

/**
 * Whether only an explicit decision may change this path: keel.yaml, .vscode/, .keel/ and the
 * runbooks folder (null: leave the runbooks out, for Keel's own writes such as cassettes).
 */
export function isProtected(relative: string, runbooksDir: string | null = 'runbooks'): boolean {
  const path = relative.split('/').map(canonical).join('/');
  // The configured folder and the default one: a keel.yaml that moves the folder does not thereby
  // unprotect runbooks/.
  const runbooks =
    runbooksDir === null ? [] : [`${runbooksDir.split('/').map(canonical).join('/')}/`, 'runbooks/'];
  return [...PROTECTED_PATHS, ...runbooks].some((p) =>
    p.endsWith('/') ? path.startsWith(p) || `${path}/` === p : path === p,
  );
}

/** Whether the path is Keel's own state (`.keel/...`): never the target of a proposed change. */
export function isKeelState(relative: string): boolean {
  const first = canonical(relative.split('/')[0] ?? '');
  return first === KEEL_DIR;
}

/** A path segment as case-insensitive file systems see it. */
function canonical(segment: string): string {
  return segment.toLowerCase().replace(/[. ]+$/, '');
}

/** The absolute path of a checked relative path, by words only: use `resolveInside` before touching it. */
export function absoluteIn(workspace: string, relative: string): string {
  return join(workspace, ...relative.split('/'));
}

/**
 * The absolute path of `path` once every folder on the way from the workspace root is a real
 * folder (not a symlink) and the last component, if it exists, is not a symlink either. With
 * `create`, missing folders are made, one at a time, each checked again after it is made; with
 * `folder`, the path itself is such a folder.
 * Throws WorkspacePathError; an ENOENT of a missing folder when not creating.
 */
export async function resolveInside(
  workspace: string,
  path: string,
  options: { create?: boolean; mode?: number; folder?: boolean } = {},
): Promise<string> {
  const relative = workspaceRelative(path);
  const parts = relative.split('/');
  let current = workspace;
  for (const [index, part] of parts.entries()) {
    current = join(current, part);
    // With `folder`, the last component is one more folder on the way.
    const last = index === parts.length - 1 && !options.folder;
    let stat = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
      throw error;
    });
    if (stat === null) {
      if (last) return current;
      if (!options.create) throw missing(current);
      await mkdir(current, { mode: options.mode ?? 0o755 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      stat = await lstat(current);
    }
    refuseOnTheWay(path, parts.slice(0, index + 1).join('/'), last, stat);
  }
  return current;
}

/**
 * `resolveInside` for reading, without promises, for reading thousands of files in a row (a cold
 * index): the same checks, a few microseconds each instead of a trip through the thread pool.
 * `folders` holds the folders (absolute) found real folders by earlier calls of one synchronous
 * stretch of reads, so each is checked once in it (a check is an lstat, 5-15 us).
 */
export function resolveInsideSync(workspace: string, path: string, folders?: Set<string>): string {
  const parts = workspaceRelative(path).split('/');
  let current = workspace;
  for (const [index, part] of parts.entries()) {
    current = join(current, part);
    const last = index === parts.length - 1;
    if (!last && folders?.has(current)) continue;
    let stat;
    try {
      stat = lstatSync(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      if (last) return current;
      throw missing(current);
    }
    refuseOnTheWay(path, parts.slice(0, index + 1).join('/'), last, stat);
    if (!last) folders?.add(current);
  }
  return current;
}

/** A component on the way to `path` (`shown`, the last one when `last`) must be a real folder or file. */
function refuseOnTheWay(path: string, shown: string, last: boolean, stat: Stats): void {
  if (stat.isSymbolicLink()) {
    throw new WorkspacePathError(
      path,
      `${shown} is a symbolic link, and Keel follows no link in the workspace`,
      `Replace ${shown} with a real ${last ? 'file' : 'folder'} inside the workspace, or remove it.`,
    );
  }
  if (!last && !stat.isDirectory()) {
    throw new WorkspacePathError(path, `${shown} is not a folder`, 'Rename or remove it.');
  }
}

function missing(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), {
    code: 'ENOENT',
    path,
  });
}

/** A file larger than its reader takes: its size was read, its content was not. */
export class FileTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly limit: number,
  ) {
    super(`${path} is larger than ${limit} bytes`);
    this.name = 'FileTooLargeError';
  }
}

/**
 * Reads a workspace file without following a link; null when it does not exist. With `maxBytes`,
 * a larger file is refused (FileTooLargeError) from the opened handle's size before anything is
 * read, and never more than `maxBytes` + 1 bytes are read (a file growing meanwhile is refused too).
 */
export async function readInside(workspace: string, path: string, maxBytes?: number): Promise<Buffer | null> {
  let target: string;
  try {
    target = await resolveInside(workspace, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const handle = await openNoFollow(target, constants.O_RDONLY, path);
  if (handle === null) return null;
  try {
    const stats = await handle.stat();
    // A FIFO or a device would block or never end: only regular files are read.
    if (!stats.isFile()) {
      throw new WorkspacePathError(path, 'it is not a regular file', 'Keel reads only regular files.');
    }
    if (maxBytes === undefined) return await handle.readFile();
    if (stats.size > maxBytes) throw new FileTooLargeError(path, maxBytes);
    return await readAtMost(handle, maxBytes, path);
  } finally {
    await handle.close();
  }
}

/** The handle's content, refused once it passes `maxBytes`. */
async function readAtMost(handle: FileHandle, maxBytes: number, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(1024 * 1024, maxBytes + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    total += bytesRead;
    if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    chunks.push(chunk.subarray(0, bytesRead));
  }
}

export async function readInsideText(workspace: string, path: string): Promise<string | null> {
  return (await readInside(workspace, path))?.toString('utf8') ?? null;
}

/** Opens an absolute path without following a final symlink; null when it does not exist. */
export async function openNoFollow(
  target: string,
  flags: number,
  shown = target,
): Promise<FileHandle | null> {
  try {
    return await open(target, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return notOpened(error, shown);
  }
}

/** `openNoFollow` without promises: a file descriptor, or null when the file does not exist. */
export function openNoFollowSync(target: string, flags: number, shown = target): number | null {
  try {
    return openSync(target, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return notOpened(error, shown);
  }
}

/** An open without following a link failed: null when there is no such file, else why. */
function notOpened(error: unknown, shown: string): null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return null;
  if (code === 'ELOOP' || code === 'EMLINK') {
    throw new WorkspacePathError(
      shown,
      'it is a symbolic link, and Keel follows no link in the workspace',
      `Replace ${shown} with a regular file, or remove it.`,
    );
  }
  throw error;
}

/** A file written and fsync'd in `.keel/tmp/`, to be renamed over its target. */
export interface StagedWrite {
  /** The workspace-relative path. */
  path: string;
  /** Its absolute path, checked. */
  target: string;
  temp: string;
}

/**
 * Checks `path` for writing (folders created as needed, none of them a link; an existing file is
 * a regular file with no other hard link) and writes `content` to a temporary file in `.keel/tmp/`.
 */
export async function stageWrite(
  workspace: string,
  path: string,
  content: string | Buffer,
): Promise<StagedWrite> {
  const target = await writableTarget(workspace, path, true);
  const temp = await tempFile(workspace, 'write');
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  return { path, target, temp };
}

/** Renames a staged file over its target, after checking the target once more. */
export async function commitWrite(workspace: string, staged: StagedWrite): Promise<void> {
  await writableTarget(workspace, staged.path, false);
  await rename(staged.temp, staged.target);
}

/**
 * Puts a staged file at its target only if no file has that name yet (a hard link fails if it
 * exists, where a rename would overwrite); false when one is there. The temporary file stays for
 * the caller to remove.
 */
export async function commitCreate(workspace: string, staged: StagedWrite): Promise<boolean> {
  await writableTarget(workspace, staged.path, false);
  try {
    await link(staged.temp, staged.target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Writes a workspace file atomically (temporary file in `.keel/tmp/`, fsync, rename). */
export async function writeInside(
  workspace: string,
  path: string,
  content: string | Buffer,
): Promise<string> {
  const staged = await stageWrite(workspace, path, content);
  try {
    await commitWrite(workspace, staged);
  } catch (error) {
    await rm(staged.temp, { force: true });
    throw error;
  }
  return staged.target;
}

/** Deletes a workspace file (not a folder, not through a link); a missing file is already deleted. */
export async function removeInside(workspace: string, path: string): Promise<void> {
  let target: string;
  try {
    target = await writableTarget(workspace, path, false);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await rm(target, { force: true });
}

/** The checked absolute path of a file Keel is about to replace or delete. */
export async function writableTarget(workspace: string, path: string, create: boolean): Promise<string> {
  const target = await resolveInside(workspace, path, { create });
  const stat = await lstat(target).catch(() => null);
  if (stat === null) return target;
  if (!stat.isFile()) {
    throw new WorkspacePathError(path, 'it is not a regular file', 'Keel writes only regular files.');
  }
  if (stat.nlink > 1) {
    throw new WorkspacePathError(
      path,
      `it is hard-linked (${stat.nlink} names for one file), so it may be a file outside the workspace`,
      'Replace it with a copy of its own (cp it to a new name and move that over it).',
    );
  }
  return target;
}

/**
 * `.keel/` and the given folder inside it, as real folders (mode 0700 when made): refused when
 * `.keel/` or any folder on the way is a symlink, so Keel's state never lands outside the workspace.
 */
export async function keelDir(workspace: string, ...inside: string[]): Promise<string> {
  const path = [KEEL_DIR, ...inside].join('/');
  try {
    return await resolveInside(workspace, path, { create: true, mode: 0o700, folder: true });
  } catch (error) {
    if (!(error instanceof WorkspacePathError)) throw error;
    throw new WorkspacePathError(
      path,
      error.reason,
      'Keel keeps its state only in a real .keel/ folder of the workspace: remove the link and start again.',
    );
  }
}

/**
 * Removes a link planted where Keel keeps derived state (an index, a database): the link itself,
 * never what it points at, so the store is rebuilt inside `.keel/` instead of written elsewhere.
 * Returns whether there was one.
 */
export async function removePlantedLink(path: string): Promise<boolean> {
  const stat = await lstat(path).catch(() => null);
  if (!stat?.isSymbolicLink()) return false;
  await rm(path, { force: true });
  return true;
}

/** A fresh temporary file name in `.keel/tmp/` (the folder checked and made). */
export async function tempFile(workspace: string, label: string): Promise<string> {
  const dir = await keelDir(workspace, 'tmp');
  return join(dir, `${label}-${randomBytes(6).toString('hex')}.tmp`);
}

/** Removes what interrupted writes left in `.keel/tmp/` (at daemon start, before any write). */
export async function clearKeelTemp(workspace: string): Promise<void> {
  const keel = await keelDir(workspace);
  const tmp = join(keel, 'tmp');
  // rm never follows a link: a `.keel/tmp` symlink is removed itself, not what it points at.
  await rm(tmp, { recursive: true, force: true });
  await keelDir(workspace, 'tmp');
}
