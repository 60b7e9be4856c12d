/**
 * Where Keel keeps what must stay private to the user, never inside a workspace: the JSON-RPC
 * socket and its token in a per-user runtime directory (gone at logout), and what must outlive a
 * reboot (the operator's trust decisions, the key that signs Keel's own records) in a per-user
 * state directory. Both are mode 0700.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, lstatSync, chmodSync, realpathSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * The per-user runtime directory: `$KEEL_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/keel`, else
 * `<tmp>/keel-<uid>`. Created 0700; refused if it is a symlink or belongs to someone else.
 */
export function runtimeDir(): string {
  return privateDir(
    process.env.KEEL_RUNTIME_DIR ??
      (process.env.XDG_RUNTIME_DIR
        ? join(process.env.XDG_RUNTIME_DIR, 'keel')
        : join(tmpdir(), `keel-${userInfo().uid}`)),
    'KEEL_RUNTIME_DIR',
  );
}

/**
 * The per-user state directory, kept across reboots: `$KEEL_STATE_DIR`, else
 * `$XDG_STATE_HOME/keel`, else `~/.local/state/keel`. Created 0700; refused like the runtime one.
 */
export function userStateDir(): string {
  return privateDir(
    process.env.KEEL_STATE_DIR ??
      join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'keel'),
    'KEEL_STATE_DIR',
  );
}

/**
 * The per-user cache directory, for what Keel can always rebuild (V8's compiled code for its
 * bundles): `$KEEL_CACHE_DIR`, else `$XDG_CACHE_HOME/keel`, else `~/.cache/keel`. Created 0700;
 * refused like the runtime one.
 */
export function userCacheDir(): string {
  return privateDir(
    process.env.KEEL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keel'),
    'KEEL_CACHE_DIR',
  );
}

/** `dir`, created 0700 if missing; refused if it is a symlink, not a folder or someone else's. */
function privateDir(dir: string, setting: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) {
    throw new Error(`Keel's private directory ${dir} is not a directory; remove it and try again.`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new Error(
      `Keel's private directory ${dir} belongs to another user (uid ${stat.uid}); ` +
        `set ${setting} to a directory of your own.`,
    );
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/** A short, stable name for a workspace folder, so socket paths stay under the 108-byte limit. */
export function workspaceKey(workspace: string): string {
  return createHash('sha256').update(realpathSync(workspace)).digest('hex').slice(0, 16);
}

export function socketPathFor(workspace: string): string {
  return join(runtimeDir(), `${workspaceKey(workspace)}.sock`);
}

export function tokenPathFor(socketPath: string): string {
  return socketPath.replace(/\.sock$/, '') + '.token';
}

/** `.keel/`: the workspace's derived, git-ignored state. */
export function stateDir(workspace: string): string {
  return join(workspace, '.keel');
}
