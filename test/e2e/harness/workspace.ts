/**
 * A test's workspace folder under its code-server's temporary root: empty, `keel init`'s or
 * `keel demo`'s, with the test's files written in and, when asked, committed to git.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeNote } from '../../helpers/memory';
import { REPO_ROOT, type CodeServer } from './codeServer';

const run = promisify(execFile);
const KEEL = join(REPO_ROOT, 'daemon', 'bin', 'keel.cjs');

export interface WorkspaceSpec {
  /** What the folder starts as: empty (the default), `keel init`'s workspace, or the demo company. */
  from?: 'empty' | 'init' | 'demo';
  /** Files written after that, by path inside the folder (a keel.yaml here replaces init's). */
  files?: Record<string, string>;
  /** Commits `paths` (everything by default) as `author` (Maya), in a repository made if none. */
  commit?: { message: string; author?: { name: string; email: string }; paths?: string[] };
}

export type WorkspaceBuilder = (name: string, spec?: WorkspaceSpec) => Promise<string>;

export const MAYA = { name: 'Maya', email: 'maya@example.com' };

export async function buildWorkspace(
  server: CodeServer,
  name: string,
  spec: WorkspaceSpec = {},
): Promise<string> {
  let folder: string;
  if (spec.from === 'demo') {
    folder = join(server.root, 'workspaces', name);
    await keel(server, ['demo', folder]);
  } else {
    folder = await server.newFolder(name);
    if (spec.from === 'init') await keel(server, ['init', folder]);
  }
  for (const [path, content] of Object.entries(spec.files ?? {})) await writeNote(folder, path, content);
  if (spec.commit) {
    const { message, author = MAYA, paths = ['-A'] } = spec.commit;
    const isRepository = await access(join(folder, '.git')).then(
      () => true,
      () => false,
    );
    if (!isRepository) await git(folder, 'init', '-q');
    await git(folder, 'add', ...paths);
    await git(
      folder,
      '-c',
      `user.name=${author.name}`,
      '-c',
      `user.email=${author.email}`,
      'commit',
      '-qm',
      message,
    );
  }
  return folder;
}

/** The `keel` CLI as the operator runs it from a terminal beside this code-server's editor. */
export async function keel(server: CodeServer, args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run(process.execPath, [KEEL, ...args], {
    cwd,
    env: { ...process.env, KEEL_RUNTIME_DIR: server.runtimeDir },
  });
  return stdout;
}

export async function git(folder: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', folder, ...args]);
  return stdout.trim();
}
