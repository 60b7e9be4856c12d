/** The few git operations the workspace needs, run through the real `git` binary. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs git with every path taken literally: a file name is never read as pathspec magic (":/"). */
function run(
  command: 'git',
  args: string[],
  options: { cwd: string },
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(command, args, {
    ...options,
    encoding: 'utf8',
    env: { ...process.env, GIT_LITERAL_PATHSPECS: '1' },
  });
}

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

/**
 * Commits exactly `paths` (added, changed or deleted) with `message`, leaving anything else the
 * operator has staged alone. Without a configured identity, commits as "Keel". Returns the commit id.
 */
export async function commitPaths(dir: string, paths: string[], message: string): Promise<string> {
  const identity = await run('git', ['config', '--get', 'user.email'], { cwd: dir }).then(
    () => [],
    () => ['-c', 'user.name=Keel', '-c', 'user.email=keel@localhost'],
  );
  await run('git', ['add', '--all', '--', ...paths], { cwd: dir });
  await run(
    'git',
    [...identity, 'commit', '--quiet', '--only', '--no-verify', '-m', message, '--', ...paths],
    {
      cwd: dir,
    },
  );
  return (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
}

/**
 * The newest commit whose message has the trailer `key: value` (in its trailer block, as git reads
 * it, not merely somewhere in its text, where model-written words could put it), or null.
 */
export async function commitWithTrailer(dir: string, key: string, value: string): Promise<string | null> {
  const { stdout } = await run(
    'git',
    [
      'log',
      '--all',
      '--fixed-strings',
      `--grep=${key}: ${value}`,
      `--format=%H%x00%(trailers:key=${key},valueonly,separator=%x00)%x01`,
    ],
    { cwd: dir },
  ).catch(() => ({ stdout: '' }));
  for (const entry of stdout.split('\x01')) {
    const [hash, ...values] = entry.trim().split('\x00');
    if (hash && values.some((v) => v.trim() === value)) return hash;
  }
  return null;
}
