/**
 * Keel acts only on state it wrote itself. Every record under `.keel/` that can cause an action
 * (proposals, run journals, trigger slots, the lock) carries an HMAC-SHA256 made with a per-user
 * secret kept outside every workspace (`<userStateDir>/state.key`) and bound to the workspace's
 * real path, so a record forged in a cloned repository, edited by hand or copied from another
 * workspace does not verify. Such a record is quarantined (`.keel/quarantine/`), never acted on.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  constants,
  lstatSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
  closeSync,
  fstatSync,
  fsyncSync,
  type Stats,
} from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stateDir, userStateDir, workspaceKey } from './paths';

const KEY_BYTES = 32;
const keys = new Map<string, Buffer>();

/** What a seal is about: a seal made for one kind of record never verifies as another. */
export type SealKind =
  | 'proposal'
  | 'journal'
  | 'triggers'
  | 'eventCursors'
  | 'lock'
  | 'alerts'
  | 'probes'
  | 'retention'
  | 'finishedRuns';

/** The per-user key, created (32 random bytes, 0600) on first use; refused if anyone else could have set it. */
export function userStateKey(): Buffer {
  const path = join(userStateDir(), 'state.key');
  const known = keys.get(path);
  if (known) return known;
  let key = readKeyFile(path);
  if (!key) {
    const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      // link() never replaces: when two processes create the key at once, both use the first one.
      linkSync(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(temp, { force: true });
    }
    key = readKeyFile(path);
    if (!key) throw new Error(`Keel could not create its state key ${path}.`);
  }
  keys.set(path, key);
  return key;
}

function readKeyFile(path: string): Buffer | null {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const uid = process.getuid?.();
  const refuse = (why: string): never => {
    throw new Error(
      `Keel's state key ${path} ${why}; Keel will not trust records signed with it. ` +
        `Remove it (Keel makes a new one; records under .keel/ signed with the old one are then quarantined).`,
    );
  };
  if (!stat.isFile()) refuse('is not a regular file (a symlink?)');
  if (uid !== undefined && stat.uid !== uid) refuse(`belongs to another user (uid ${stat.uid})`);
  if ((stat.mode & 0o077) !== 0)
    refuse(`can be read or written by others (mode ${(stat.mode & 0o777).toString(8)})`);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const key = readFileSync(fd);
    if (key.length !== KEY_BYTES) refuse(`holds ${key.length} bytes, not ${KEY_BYTES}`);
    return key;
  } finally {
    closeSync(fd);
  }
}

/** Seals and verifies one workspace's records. */
export class StateSeal {
  private readonly key: Buffer;
  private readonly context: string;

  constructor(readonly workspace: string) {
    this.key = userStateKey();
    this.context = workspaceKey(workspace);
  }

  /** The seal of `text` (hex), bound to this workspace, `kind` and `scope` (e.g. a run id). */
  seal(kind: SealKind, text: string, scope = ''): string {
    return createHmac('sha256', this.key)
      .update(`keel-state-v1\0${kind}\0${this.context}\0${scope}\0`)
      .update(text)
      .digest('hex');
  }

  verify(kind: SealKind, text: string, seal: unknown, scope = ''): boolean {
    if (typeof seal !== 'string' || !/^[0-9a-f]{64}$/.test(seal)) return false;
    return timingSafeEqual(Buffer.from(this.seal(kind, text, scope), 'hex'), Buffer.from(seal, 'hex'));
  }

  /** A JSON object with its seal as the `seal` field (over the canonical form of the rest). */
  sealObject(kind: SealKind, value: object): Record<string, unknown> {
    const { seal: _old, ...rest } = value as Record<string, unknown>;
    return { ...rest, seal: this.seal(kind, canonicalJson(rest)) };
  }

  /** The object without its seal if the seal is right, else null. */
  openObject(kind: SealKind, value: unknown): Record<string, unknown> | null {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const { seal, ...rest } = value as Record<string, unknown>;
    return this.verify(kind, canonicalJson(rest), seal) ? rest : null;
  }
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order on disk. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** A file under `.keel/` that is a symlink (or not a regular file): it is never followed. */
export class NotAPlainFileError extends Error {}

/**
 * The text of a file Keel keeps under `.keel/`, or null if there is none. Never follows a symlink
 * (lstat, then O_NOFOLLOW, then a check that what was opened is the file looked at).
 */
export async function readStateFile(path: string): Promise<string | null> {
  let before;
  try {
    before = await lstat(path);
  } catch (error) {
    return absent(error);
  }
  checkPlainFile(before, path);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    return notOpened(error, path);
  }
  try {
    checkSameFile(before, await handle.stat(), path);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * `readStateFile` without the promises, for reading many small files at a start (every run's
 * journal): 1,500 journals took 200-230 ms through file handles 16 at a time, 30-50 ms so.
 */
export function readStateFileSync(path: string): string | null {
  let before;
  try {
    before = lstatSync(path);
  } catch (error) {
    return absent(error);
  }
  checkPlainFile(before, path);
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    return notOpened(error, path);
  }
  try {
    checkSameFile(before, fstatSync(fd), path);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A state file's lstat failed: null when there is no such file, else the error. */
function absent(error: unknown): null {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw error;
}

/** What lstat found must be a regular file, not a link or a folder. */
function checkPlainFile(before: Stats, path: string): void {
  if (!before.isFile()) throw new NotAPlainFileError(`${path} is not a regular file`);
}

/** A state file's open (O_NOFOLLOW) failed: null when it went away, else why. */
function notOpened(error: unknown, path: string): null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return null;
  if (code === 'ELOOP') throw new NotAPlainFileError(`${path} is a symlink`);
  throw error;
}

/** What was opened is the regular file lstat looked at, not one swapped in between. */
function checkSameFile(before: Stats, opened: Stats, path: string): void {
  if (!opened.isFile() || opened.ino !== before.ino || opened.dev !== before.dev) {
    throw new NotAPlainFileError(`${path} changed while it was read`);
  }
}

export function quarantineDir(workspace: string): string {
  return join(stateDir(workspace), 'quarantine');
}

/**
 * Moves a record Keel will not act on out of the way (`.keel/quarantine/`), with a note saying why
 * next to it; a symlink is moved as the link, never followed. Returns where it went, or null if
 * it was gone already.
 */
export async function quarantine(workspace: string, path: string, reason: string): Promise<string | null> {
  const dir = quarantineDir(workspace);
  if ((await lstat(dir).catch(() => null))?.isSymbolicLink()) await rm(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target = join(dir, `${stamp}-${randomBytes(3).toString('hex')}-${basename(path)}`);
  try {
    await rename(path, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  await writeFile(
    `${target}.why.txt`,
    `${path}\n${reason}\n` +
      'Keel does not act on this record. Look at it, then delete it (or the whole .keel/quarantine/ folder).\n',
    { mode: 0o600 },
  );
  return target;
}

/** What is in quarantine now, for diagnostics: the quarantined file (workspace-relative) and why. */
export async function quarantined(workspace: string): Promise<{ path: string; message: string }[]> {
  const dir = quarantineDir(workspace);
  const names = await readdir(dir).catch(() => [] as string[]);
  const found: { path: string; message: string }[] = [];
  for (const name of names.filter((n) => n.endsWith('.why.txt')).sort()) {
    const text = (await readStateFile(join(dir, name)).catch(() => null)) ?? '';
    const [original = '?', reason = ''] = text.split('\n');
    found.push({
      path: `.keel/quarantine/${name.slice(0, -'.why.txt'.length)}`,
      message: `Keel did not act on ${original} and moved it here: ${reason}`,
    });
  }
  return found;
}

/**
 * Moves any symlink found among `.keel/`'s entries, and those of its record folders, to
 * quarantine. A `.keel` that is itself a link or no folder is refused by `keelDir`
 * (files/workspacePaths.ts), which the daemon calls first.
 */
export async function checkStateDir(workspace: string, warn: (message: string) => void): Promise<void> {
  const dir = stateDir(workspace);
  for (const sub of ['', 'approvals', 'runs']) {
    const folder = join(dir, sub);
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isSymbolicLink()) continue;
      const path = join(folder, entry.name);
      if (sub === '' && entry.name === 'quarantine') {
        await rm(path);
        warn(`${path} was a symlink; Keel removed the link (never what it pointed to)`);
        continue;
      }
      const moved = await quarantine(workspace, path, 'a symlink inside .keel/: Keel never follows one');
      if (moved)
        warn(`${path} is a symlink; Keel never follows links inside .keel/ and moved it to ${moved}`);
    }
  }
}
