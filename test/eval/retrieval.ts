/**
 * Retrieval quality on LoCoMo, measured through Keel as a user runs it:
 *   npm run eval:retrieval -- ../shared/data/locomo-dev.json [--keep DIR] [--json FILE]
 * builds a workspace with one Markdown note per dialog turn (speaker, date and session in the
 * frontmatter, with the caption of a photo the turn shared; the turn's text as the body), indexes it with `keel index`, asks every question of
 * categories 1-4 through `keel search --batch` (full-text only, vector only, hybrid), and prints
 * recall@1/5/10/25: the fraction of a question's evidence turns in the top k, averaged.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocomo, type LocomoQuestion, type LocomoTurn } from './locomo';

const CLI = join(__dirname, '..', '..', 'daemon', 'dist', 'cli.js');
const KS = [1, 5, 10, 25] as const;
const MODES = ['text', 'vector', 'hybrid'] as const;
type Mode = (typeof MODES)[number];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file)
    throw new Error('usage: npm run eval:retrieval -- PATH/TO/locomo-dev.json [--keep DIR] [--json FILE]');
  const keep = valueOf(args, '--keep');
  const jsonOut = valueOf(args, '--json');
  const data = await readLocomo(file);
  const questions = data.questions.filter((q) => q.category >= 1 && q.category <= 4 && q.evidence.length > 0);

  const root = keep ?? (await mkdtemp(join(tmpdir(), 'keel-locomo-')));
  const workspace = join(root, 'workspace');
  await rm(workspace, { recursive: true, force: true });
  const env = { ...process.env, KEEL_RUNTIME_DIR: join(root, 'run') };
  await keel(['init', workspace], env);
  await writeTurns(workspace, data.turns);
  const started = Date.now();
  await keel(['index', '--workspace', workspace], env);
  const indexSeconds = (Date.now() - started) / 1000;

  const batch = join(root, 'questions.jsonl');
  await writeFile(batch, questions.map((q) => JSON.stringify(batchLine(q))).join('\n') + '\n');
  const recalls = {} as Record<Mode, Record<number, number>>;
  for (const mode of MODES) {
    const output = await keel(
      ['search', '--workspace', workspace, '--batch', batch, '--json', '--mode', mode],
      env,
    );
    recalls[mode] = score(questions, output);
  }
  report({
    file,
    turns: data.turns.length,
    questions,
    unknownEvidence: data.unknownEvidence,
    indexSeconds,
    recalls,
    workspace,
  });
  if (jsonOut)
    await writeFile(
      jsonOut,
      JSON.stringify({ turns: data.turns.length, questions: questions.length, recalls }, null, 2),
    );
  if (!keep) await rm(root, { recursive: true, force: true });
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

/** Mean recall@k over questions, from `keel search --batch --json` output. */
function score(questions: LocomoQuestion[], output: string): Record<number, number> {
  const answers = new Map<string, string[]>();
  for (const line of output.split('\n').filter((l) => l.trim())) {
    const answer = JSON.parse(line) as { id: string; results: { path: string }[] };
    answers.set(
      answer.id,
      answer.results.map((r) => r.path),
    );
  }
  const totals: Record<number, number> = { 1: 0, 5: 0, 10: 0, 25: 0 };
  for (const q of questions) {
    const paths = answers.get(q.id) ?? [];
    const turnIds = paths.map((p) => /\/(D\d+)-(\d+)\.md$/.exec(p)).map((m) => (m ? `${m[1]}:${m[2]}` : ''));
    for (const k of KS) {
      const top = new Set(turnIds.slice(0, k));
      totals[k]! += q.evidence.filter((id) => top.has(id)).length / q.evidence.length;
    }
  }
  return Object.fromEntries(KS.map((k) => [k, totals[k]! / questions.length]));
}

function report(r: {
  file: string;
  turns: number;
  questions: LocomoQuestion[];
  unknownEvidence: number;
  indexSeconds: number;
  recalls: Record<Mode, Record<number, number>>;
  workspace: string;
}): void {
  const byCategory = [1, 2, 3, 4]
    .map((c) => `${c}: ${r.questions.filter((q) => q.category === c).length}`)
    .join(', ');
  const lines = [
    `LoCoMo retrieval, ${r.file}`,
    `  workload: ${r.turns} turns as notes; ${r.questions.length} questions of categories 1-4 (${byCategory});`,
    `            ${r.unknownEvidence} malformed or unknown evidence ids ignored; indexed in ${r.indexSeconds.toFixed(1)} s`,
    '',
    `  ${'mode'.padEnd(10)}${KS.map((k) => `recall@${k}`.padStart(11)).join('')}`,
    ...MODES.map(
      (mode) => `  ${mode.padEnd(10)}${KS.map((k) => r.recalls[mode][k]!.toFixed(3).padStart(11)).join('')}`,
    ),
  ];
  console.log(lines.join('\n'));
}

function keel(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
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

function valueOf(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
