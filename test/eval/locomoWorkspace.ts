/**
 * A LoCoMo workspace as a user would have it (one Markdown note per dialog turn, indexed with
 * `keel index`) and its questions asked through `keel search --batch`: shared by the retrieval
 * eval and its cross-validation.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocomoQuestion, LocomoTurn } from './locomo';

const CLI = join(__dirname, '..', '..', 'daemon', 'dist', 'cli.js');
export const KS = [1, 5, 10, 25] as const;
export type SearchMode = 'text' | 'vector' | 'hybrid';

/** Questions of categories 1-4 with evidence: the ones scored. */
export function scoredQuestions(questions: LocomoQuestion[]): LocomoQuestion[] {
  return questions.filter((q) => q.category >= 1 && q.category <= 4 && q.evidence.length > 0);
}

/** A new workspace under `root` holding `turns`, indexed; how long `keel index` took. */
export async function buildWorkspace(
  root: string,
  turns: LocomoTurn[],
): Promise<{ workspace: string; env: NodeJS.ProcessEnv; indexSeconds: number }> {
  const workspace = join(root, 'workspace');
  await rm(workspace, { recursive: true, force: true });
  const env = workspaceEnv(root);
  await keel(['init', workspace], env);
  await writeTurns(workspace, turns);
  const started = Date.now();
  await keel(['index', '--workspace', workspace], env);
  return { workspace, env, indexSeconds: (Date.now() - started) / 1000 };
}

export function workspaceEnv(root: string): NodeJS.ProcessEnv {
  return { ...process.env, KEEL_RUNTIME_DIR: join(root, 'run') };
}

/** Asks every question in one `keel search --batch`; the paths found, best first, by question id. */
export async function searchAll(
  root: string,
  workspace: string,
  questions: LocomoQuestion[],
  mode: SearchMode,
): Promise<Map<string, string[]>> {
  const batch = join(root, 'questions.jsonl');
  await writeFile(batch, questions.map((q) => JSON.stringify(batchLine(q))).join('\n') + '\n');
  const output = await keel(
    ['search', '--workspace', workspace, '--batch', batch, '--json', '--mode', mode],
    workspaceEnv(root),
  );
  const answers = new Map<string, string[]>();
  for (const line of output.split('\n').filter((l) => l.trim())) {
    const answer = JSON.parse(line) as { id: string; results: { path: string }[] };
    answers.set(
      answer.id,
      answer.results.map((r) => r.path),
    );
  }
  return answers;
}

/** The fraction of the question's evidence turns among the first k paths. */
export function recallAt(q: LocomoQuestion, paths: string[], k: number): number {
  const turnIds = paths
    .slice(0, k)
    .map((p) => /\/(D\d+)-(\d+)\.md$/.exec(p))
    .map((m) => (m ? `${m[1]}:${m[2]}` : ''));
  const top = new Set(turnIds);
  return q.evidence.filter((id) => top.has(id)).length / q.evidence.length;
}

/** Turn files: memory/<conversation>/session-<n>/<dia id>.md. */
function turnPath(turn: { conversation: string; diaId: string }, session: number): string {
  return `memory/${turn.conversation}/session-${session}/${turn.diaId.replace(':', '-')}.md`;
}

async function writeTurns(workspace: string, turns: LocomoTurn[]): Promise<void> {
  for (const turn of turns) {
    const path = join(workspace, turnPath(turn, turn.session));
    await mkdir(join(path, '..'), { recursive: true });
    const frontmatter = [
      '---',
      `speaker: ${turn.speaker}`,
      `date: ${turn.date}T${turn.time}`,
      `session: ${turn.session}`,
      `conversation: ${turn.conversation}`,
      `turn: ${turn.diaId}`,
      // A shared photo is part of what the turn says; the dataset gives it as a caption.
      ...(turn.image ? [`image: ${JSON.stringify(turn.image)}`] : []),
      '---',
    ].join('\n');
    await writeFile(path, `${frontmatter}\n${turn.text}\n`);
  }
}

function batchLine(q: LocomoQuestion): object {
  return {
    id: q.id,
    query: q.question,
    k: Math.max(...KS),
    filter: { pathPrefix: `memory/${q.conversation}/` },
  };
}

export function keel(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 || (code === 1 && args[0] === 'index')
        ? resolve(out)
        : reject(new Error(`keel ${args[0]} exited ${code}`)),
    );
  });
}

export function valueOf(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}
