/**
 * The few git operations the workspace needs, run through the real `git` binary, never running a
 * program the workspace's git configuration names (fsmonitor, hooks, filters, signing).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Settings that keep a workspace's own git configuration from running programs when Keel runs
 * git: a cloned or unpacked workspace can bring a `.git/config` naming an fsmonitor, hooks, a
 * signing program or an ssh command. Passed with `-c`, they override every configuration file.
 */
export const HARDENED = [
  'core.fsmonitor=false',
  'core.hooksPath=/dev/null',
  'commit.gpgsign=false',
  'tag.gpgsign=false',
  'core.sshCommand=',
  'diff.external=',
  'core.attributesFile=/dev/null',
  // Commit may start `gc --auto` or `maintenance run --auto` in the background: nothing starts.
  'gc.auto=0',
  'maintenance.auto=false',
].flatMap((setting) => ['-c', setting]);

/**
 * Runs git with every path taken literally (a file name is never read as pathspec magic, ":/"),
 * the hardened settings first, no system attributes file and no prompt.
 */
function run(
  command: 'git',
  args: string[],
  options: { cwd: string; maxBuffer?: number },
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(command, [...HARDENED, ...args], {
    ...options,
    encoding: 'utf8',
    env: gitEnvironment(),
  });
}

/** The environment every git Keel runs gets (literal pathspecs, no system attributes, no prompt). */
export function gitEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_LITERAL_PATHSPECS: '1', GIT_ATTR_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
}

/**
 * `-c` settings that switch off the filter drivers the repository's own configuration defines
 * (`.gitattributes` names a driver, `.git/config` says what program it runs). Drivers of the
 * operator's own configuration (git-lfs in ~/.gitconfig) keep working.
 */
async function repositoryFilters(dir: string): Promise<string[]> {
  const { stdout } = await run('git', ['config', '--show-scope', '--null', '--get-regexp', '^filter\\.'], {
    cwd: dir,
  }).catch(() => ({ stdout: '' }));
  // Entries are `scope NUL key LF value NUL`; a driver's name may hold dots and spaces.
  const fields = stdout.split('\0');
  const names = new Set<string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i + 1]!.split('\n')[0]!;
    const name = key.slice('filter.'.length, key.lastIndexOf('.'));
    if (['local', 'worktree', 'command'].includes(fields[i]!) && name !== '') names.add(name);
  }
  return [...names].flatMap((name) =>
    ['clean=', 'smudge=', 'process=', 'required=false'].flatMap((s) => ['-c', `filter.${name}.${s}`]),
  );
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
  const filters = await repositoryFilters(dir);
  await run('git', [...filters, 'add', '--all', '--', ...paths], { cwd: dir });
  await run(
    'git',
    [...filters, ...identity, 'commit', '--quiet', '--only', '--no-verify', '-m', message, '--', ...paths],
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

/** A commit of a file and the `Keel-Run` trailers in its trailer block. */
export interface FileCommit {
  commit: string;
  keelRuns: string[];
}

/** What git knows of one file: who created it, who last changed it, whether it changed since. */
export interface FileOrigin {
  /** The commit that added the file as it is now (the newest add: a re-created file is new). */
  created: FileCommit | null;
  /** The newest commit touching the file. */
  last: FileCommit;
  /** The file differs from its last commit now (an edit not committed yet). */
  editedSince: boolean;
}

/**
 * Where each of `paths` came from, as git has it, in two git processes whatever their number: one
 * log walk over all of them (with each commit's changed files) and one status. Trailers are read
 * from the trailer block, where model text cannot put one. Paths git knows no commit of are absent.
 */
export async function fileOrigins(dir: string, paths: readonly string[]): Promise<Map<string, FileOrigin>> {
  const origins = new Map<string, FileOrigin>();
  if (paths.length === 0) return origins;
  const format = '%x01%H%x00%(trailers:key=Keel-Run,valueonly,separator=%x02)%x00';
  const { stdout } = await run(
    'git',
    ['log', '--no-renames', '--name-status', '-z', `--format=${format}`, '--', ...paths],
    { cwd: dir, maxBuffer: GIT_LOG_BYTES },
  ).catch(() => ({ stdout: '' }));
  const wanted = new Set(paths);
  const found = new Map<string, { created: FileCommit | null; last: FileCommit }>();
  // Newest first: the first commit seen of a path is its last; its newest add is its creation.
  for (const entry of stdout.split('\x01').slice(1)) {
    const [commit = '', trailers = '', ...rest] = entry.split('\x00');
    const keelRuns = trailers
      .split('\x02')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    // After the header: NULs and one newline, then `status NUL path NUL` pairs.
    const changes = rest.join('\x00');
    const files = changes.slice(changes.indexOf('\n') + 1).split('\x00');
    for (let i = 0; i + 1 < files.length; i += 2) {
      const [status, path] = [files[i]!, files[i + 1]!];
      if (!wanted.has(path)) continue;
      const known = found.get(path) ?? { created: null, last: { commit, keelRuns } };
      if (status === 'A' && known.created === null) known.created = { commit, keelRuns };
      found.set(path, known);
    }
  }
  const changed = await changedPaths(dir, [...found.keys()]);
  for (const [path, known] of found) origins.set(path, { ...known, editedSince: changed.has(path) });
  return origins;
}

/** Bytes of `git log` output read at most (a few hundred notes with long histories fit). */
const GIT_LOG_BYTES = 64 * 1024 * 1024;

/** Which of `paths` differ from HEAD or are not tracked (one `git status`); all of them if git fails. */
async function changedPaths(dir: string, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  try {
    const { stdout } = await run('git', ['status', '--porcelain', '-z', '--no-renames', '--', ...paths], {
      cwd: dir,
      maxBuffer: GIT_LOG_BYTES,
    });
    // Entries are `XY path` NUL-separated.
    return new Set(
      stdout
        .split('\x00')
        .filter((e) => e.length > 3)
        .map((e) => e.slice(3)),
    );
  } catch {
    return new Set(paths);
  }
}
