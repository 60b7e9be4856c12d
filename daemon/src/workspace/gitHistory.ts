/**
 * Reading the workspace's notes as they were at a past commit: which commit was current at a
 * moment, which files its tree holds, and their contents, each from one git process (never one
 * per file). Every value reaches git as an `execFile` argument, after the hardened settings.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { OperatorError } from '../errors';
import { gitEnvironment, gitPresence, HARDENED } from './git';

const execFileAsync = promisify(execFile);
/** ls-tree of a large workspace (100k paths) fits well within this. */
const LIST_BUFFER = 256 * 1024 * 1024;

export interface HistoricCommit {
  commit: string;
  /** Committer date, ISO 8601 with the committer's offset. */
  committedAt: string;
}

export interface TreeFile {
  /** Relative to the workspace folder, forward slashes. */
  path: string;
  blob: string;
  size: number;
}

export interface TreeListing {
  files: TreeFile[];
  /** Entries left out, with why: links, submodules, paths that leave the folder. */
  skipped: string[];
}

function git(root: string, args: string[]): Promise<string> {
  return execFileAsync('git', [...HARDENED, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: gitEnvironment(),
    maxBuffer: LIST_BUFFER,
  }).then(({ stdout }) => stdout);
}

/**
 * Says why git could not read `root`'s history, with the fix. Asked only after a failure: on the
 * way to an answer each search runs one git process (spawning from a daemon holding LanceDB costs
 * tens of milliseconds each).
 */
async function explainFailure(root: string, error: unknown): Promise<never> {
  const presence = await gitPresence(root);
  if (presence === 'git-missing') {
    throw new OperatorError(
      'Memory as of a date reads the notes from git, and git is not installed: install git.',
    );
  }
  if (presence === 'none') {
    throw new OperatorError(
      `${root} is not a git repository, so there is no past version of its notes to search. ` +
        'Fix: run `git init` there and commit the notes (Keel commits approved changes itself from then on).',
    );
  }
  const head = await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '');
  if (head.trim() === '') {
    throw new OperatorError(`${root} has no commits yet: commit the notes first (git add -A && git commit).`);
  }
  throw error;
}

/**
 * The last commit (on the current branch's history) made at or before `moment`. Committer dates
 * count, as `git rev-list --before` reads them.
 */
export async function commitAt(root: string, moment: Date, requested: string): Promise<HistoricCommit> {
  const seconds = Math.floor(moment.getTime() / 1000);
  const found = await git(root, [
    'log',
    '-1',
    `--before=@${seconds}`,
    '--format=%H%x00%cI',
    'HEAD',
    '--',
  ]).catch((error: unknown) => explainFailure(root, error));
  if (found.trim() === '') {
    const first = await git(root, ['log', '--reverse', '--format=%cI', 'HEAD', '--']);
    throw new OperatorError(
      `No commit of ${root} was made at or before ${requested}: its history starts ${first.split('\n')[0]}. ` +
        'Fix: give a later date.',
    );
  }
  return parseCommit(found);
}

/** A commit named by its (abbreviated) id; only ids, checked by the caller, come here. */
export async function commitById(root: string, id: string): Promise<HistoricCommit> {
  const args = ['log', '-1', '--no-walk', '--format=%H%x00%cI', '--end-of-options', id];
  const found = await git(root, args).catch((error: unknown) =>
    explainFailure(root, error).catch((explained: unknown) => {
      if (explained === error) return ''; // a repository with commits: the id names none of them
      throw explained;
    }),
  );
  if (found.trim() === '') {
    throw new OperatorError(
      `${id} is not a commit of ${root}: give a commit id from \`git log\`, or a date.`,
    );
  }
  return parseCommit(found);
}

function parseCommit(line: string): HistoricCommit {
  const [commit, committedAt] = line.trim().split('\0');
  return { commit: commit!, committedAt: committedAt! };
}

/**
 * The regular files of `commit`'s tree under the workspace folder (git run there lists only its
 * part of the tree, relative to it). Symbolic links (mode 120000) and submodules are skipped: a
 * link in history is no more a note than a link on disk; a path that would leave the folder too.
 */
export async function listTree(
  root: string,
  commit: string,
  keep: (path: string) => boolean,
): Promise<TreeListing> {
  const output = await git(root, ['ls-tree', '-r', '-z', '-l', '--end-of-options', commit]);
  const files: TreeFile[] = [];
  const skipped: string[] = [];
  for (const entry of output.split('\0')) {
    if (entry === '') continue;
    const tab = entry.indexOf('\t');
    const [mode, type, blob, size] = entry.slice(0, tab).split(/ +/);
    const path = entry.slice(tab + 1);
    if (!keep(path)) continue;
    if (!contained(path)) skipped.push(`${JSON.stringify(path)}: a path that leaves the workspace folder`);
    else if (mode === '120000') skipped.push(`${path}: a symbolic link, never followed`);
    else if (type !== 'blob' || (mode !== '100644' && mode !== '100755')) skipped.push(`${path}: not a file`);
    else files.push({ path, blob: blob!, size: Number(size) });
  }
  return { files, skipped };
}

/** Relative, forward slashes, no `.`/`..` segment, no NUL or backslash. */
export function contained(path: string): boolean {
  if (path === '' || path.startsWith('/') || /[\\\0]/.test(path)) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * The contents of `blobs`, by id, from one `git cat-file --batch`. The caller leaves out blobs too
 * large to read (ls-tree gave their sizes); one that still answers larger than `maxBytes` (it
 * should not) is dropped rather than held.
 */
export function readBlobs(root: string, blobs: string[], maxBytes: number): Promise<Map<string, Buffer>> {
  const unique = [...new Set(blobs)];
  if (unique.length === 0) return Promise.resolve(new Map<string, Buffer>());
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...HARDENED, 'cat-file', '--batch'], {
      cwd: root,
      env: gitEnvironment(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8').slice(0, 2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`git cat-file failed in ${root} (exit ${String(code)}): ${stderr.trim()}`));
        return;
      }
      try {
        resolve(parseBatch(Buffer.concat(chunks), maxBytes));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stdin.on('error', () => undefined); // a failing git closes its input; `close` reports it
    child.stdin.end(unique.join('\n') + '\n');
  });
}

/** `<id> <type> <size>\n<content>\n` per blob, or `<id> missing\n`. */
function parseBatch(output: Buffer, maxBytes: number): Map<string, Buffer> {
  const contents = new Map<string, Buffer>();
  let at = 0;
  while (at < output.length) {
    const end = output.indexOf(0x0a, at);
    if (end < 0) break;
    const [id, type, size] = output.subarray(at, end).toString('utf8').split(' ');
    at = end + 1;
    if (type === 'missing' || size === undefined) continue;
    const length = Number(size);
    if (type === 'blob' && length <= maxBytes)
      contents.set(id!, Buffer.from(output.subarray(at, at + length)));
    at += length + 1;
  }
  return contents;
}
