/** The few git operations the workspace needs, run through the real `git` binary. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type GitPresence = 'repository' | 'none' | 'git-missing';

/** Whether `dir` is inside a git work tree, has none, or git is not installed. */
export async function gitPresence(dir: string): Promise<GitPresence> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir });
    return stdout.trim() === 'true' ? 'repository' : 'none';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'git-missing' : 'none';
  }
}

export async function gitInit(dir: string): Promise<void> {
  await run('git', ['init', '--quiet', '--initial-branch=main'], { cwd: dir });
}
