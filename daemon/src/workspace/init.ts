/**
 * `keel init`: makes a folder a Keel workspace. Creates only what is missing and never overwrites:
 * an existing file is kept as it is, except `.gitignore`, which gains a `.keel/` line if it lacks one.
 */
import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, DEFAULT_CONFIG_YAML, type InitResult } from '@keel/schemas';
import { gitInit, gitPresence } from './git';
import { loadConfig } from './config';

const GITIGNORE_BLOCK = `# Keel's derived state (index, journal, locks): rebuilt from the files, never committed.\n.keel/\n`;

export async function initWorkspace(workspace: string): Promise<InitResult> {
  const result: InitResult = {
    workspace,
    created: [],
    updated: [],
    kept: [],
    gitInitialized: false,
    warnings: [],
  };
  await mkdir(workspace, { recursive: true });

  record(result, CONFIG_FILE, await createFileIfMissing(join(workspace, CONFIG_FILE), DEFAULT_CONFIG_YAML));

  // An existing keel.yaml may name other folders; a broken one falls back to the defaults.
  const { config } = await loadConfig(workspace);
  for (const dir of [config?.memory.dir ?? 'memory', config?.runbooks.dir ?? 'runbooks']) {
    const created = await mkdir(join(workspace, dir), { recursive: true });
    if (created) {
      // Git does not track empty folders; the placeholder keeps them in a fresh clone.
      await createFileIfMissing(join(workspace, dir, '.gitkeep'), '');
      result.created.push(`${dir}/`);
    } else {
      result.kept.push(`${dir}/`);
    }
  }

  await ensureGitignore(workspace, result);

  const git = await gitPresence(workspace);
  if (git === 'none') {
    await gitInit(workspace);
    result.gitInitialized = true;
  } else if (git === 'git-missing') {
    result.warnings.push(
      'git is not installed, so no repository was created; install git and run "git init" ' +
        'so approved changes get an audit trail.',
    );
  }
  return result;
}

async function ensureGitignore(workspace: string, result: InitResult): Promise<void> {
  const path = join(workspace, '.gitignore');
  if (await createFileIfMissing(path, GITIGNORE_BLOCK)) {
    result.created.push('.gitignore');
    return;
  }
  const text = await readFile(path, 'utf8');
  const lists = text.split(/\r?\n/).some((line) => /^\/?\.keel(\/(\*\*?)?)?\s*$/.test(line.trim()));
  if (lists) {
    result.kept.push('.gitignore');
    return;
  }
  const separator = text.length === 0 || text.endsWith('\n') ? '' : '\n';
  await appendFile(path, `${separator}\n${GITIGNORE_BLOCK}`);
  result.updated.push('.gitignore');
}

/** Writes `content` to `path` only if nothing is there; returns whether it wrote. */
async function createFileIfMissing(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

function record(result: InitResult, path: string, created: boolean): void {
  (created ? result.created : result.kept).push(path);
}
