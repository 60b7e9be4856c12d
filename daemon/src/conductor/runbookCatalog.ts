/**
 * The workspace's runbooks: every `*.yaml` in the runbooks folder (test files under `tests/`
 * excepted), parsed, with their problems. Read on demand, cached by modification time.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Problem, Runbook, RunbookInfo } from '@keel/schemas';
import { handoffProblems, type HandoffNode } from './handoffGraph';
import { parseRunbook } from './runbookFile';
import { gitBlobId } from '../files/gitBlob';
import { readInside } from '../files/workspacePaths';

export interface LoadedRunbook {
  info: RunbookInfo;
  runbook: Runbook | null;
  /** sha256 of the file's text. */
  hash: string;
  /** The file's text, which a run started from it keeps in its journal. */
  text: string;
  /** git's blob id of the file (`git hash-object`). */
  blob: string;
  absolutePath: string;
}

export class RunbookCatalog {
  private cache = new Map<string, { mtimeMs: number; size: number; loaded: LoadedRunbook }>();

  constructor(
    private readonly workspace: string,
    /** Workspace-relative runbooks folder, forward slashes. */
    private readonly dir: string,
  ) {}

  get folder(): string {
    return this.dir;
  }

  async list(): Promise<LoadedRunbook[]> {
    const names = await readdir(join(this.workspace, this.dir)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    const files = names.filter((name) => /\.ya?ml$/.test(name)).sort();
    const loaded: LoadedRunbook[] = [];
    const seen = new Map<string, string>();
    for (const name of files) {
      const entry = await this.load(name);
      if (!entry) continue;
      const other = seen.get(entry.info.name);
      if (other && entry.runbook) {
        entry.info.problems = [duplicateProblem(entry.info.path, entry.info.name, other)];
        entry.runbook = null;
      }
      seen.set(entry.info.name, entry.info.path);
      loaded.push(entry);
    }
    // Hand-offs are checked across the folder: a missing runbook, or a cycle, keeps a runbook from running.
    const graph = handoffGraph(loaded);
    for (const entry of loaded) {
      if (!entry.runbook) continue;
      const problems = handoffProblems(
        { path: entry.info.path, text: entry.text, runbook: entry.runbook },
        graph,
      );
      if (problems.length === 0) continue;
      entry.info.problems = [...entry.info.problems, ...problems];
      entry.runbook = null;
    }
    return loaded;
  }

  /** The hand-off problems of a runbook being edited (its unsaved text), against the saved others. */
  async handoffProblems(node: HandoffNode): Promise<Problem[]> {
    const others = (await this.list()).filter((r) => r.info.path !== node.path);
    return handoffProblems(node, handoffGraph(others));
  }

  /** The runbook by name (or file name); throws a message naming the file and its first problem. */
  async get(name: string): Promise<LoadedRunbook & { runbook: Runbook }> {
    const all = await this.list();
    const found =
      all.find((r) => r.info.name === name) ??
      all.find((r) => basename(r.info.path).replace(/\.ya?ml$/, '') === name);
    if (!found) {
      const known = all.map((r) => r.info.name).join(', ') || 'none yet';
      throw new Error(`no runbook named "${name}" in ${this.dir}/ (runbooks: ${known})`);
    }
    if (!found.runbook) {
      const problem = found.info.problems[0];
      throw new Error(
        `${found.info.path} cannot run until it is fixed: ` +
          (problem
            ? `${problem.path}:${problem.line}:${problem.column} ${problem.message}`
            : 'it does not parse'),
      );
    }
    return found as LoadedRunbook & { runbook: Runbook };
  }

  async problems(): Promise<Problem[]> {
    return (await this.list()).flatMap((r) => r.info.problems);
  }

  private async load(name: string): Promise<LoadedRunbook | null> {
    const absolutePath = join(this.workspace, this.dir, name);
    const info = await stat(absolutePath).catch(() => null);
    if (!info?.isFile()) return null;
    const cached = this.cache.get(name);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) {
      return { ...cached.loaded, info: { ...cached.loaded.info } };
    }
    // Not through a link: a runbook is a file of this workspace.
    const bytes = await readInside(this.workspace, `${this.dir}/${name}`).catch(() => null);
    if (bytes === null) return null;
    const text = bytes.toString('utf8');
    const path = `${this.dir}/${name}`;
    const parsed = parseRunbook(text, path);
    const runbook = parsed.runbook;
    const loaded: LoadedRunbook = {
      absolutePath,
      hash: createHash('sha256').update(text).digest('hex'),
      text,
      blob: gitBlobId(bytes),
      runbook,
      info: {
        name: runbook?.name ?? name.replace(/\.ya?ml$/, ''),
        path,
        role: runbook?.role ?? null,
        description: runbook?.description ?? null,
        inputs: Object.entries(runbook?.inputs ?? {}).map(([inputName, input]) => ({
          name: inputName,
          type: input.type,
          description: input.description ?? null,
          required: input.required ?? input.default === undefined,
          default: input.default ?? null,
          enum: input.enum ?? null,
        })),
        problems: parsed.problems,
      },
    };
    this.cache.set(name, { mtimeMs: info.mtimeMs, size: info.size, loaded });
    return { ...loaded, info: { ...loaded.info } };
  }
}

/** Every runbook by name, as parsed (null for a file whose text does not parse now). */
function handoffGraph(loaded: LoadedRunbook[]): Map<string, HandoffNode | null> {
  const graph = new Map<string, HandoffNode | null>();
  for (const entry of loaded) {
    const parsed = entry.runbook ?? null;
    graph.set(entry.info.name, parsed ? { path: entry.info.path, text: entry.text, runbook: parsed } : null);
  }
  return graph;
}

function duplicateProblem(path: string, name: string, other: string): Problem {
  return {
    path,
    line: 1,
    column: 1,
    severity: 'error',
    message: `runbook name "${name}" is already used by ${other}; runbook names must be unique`,
  };
}
