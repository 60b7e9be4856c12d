/**
 * Retrieval quality on LoCoMo, measured through Keel as a user runs it:
 *   npm run eval:retrieval -- PATH/TO/locomo-dev.json [--keep DIR] [--json FILE]
 * builds a workspace with one Markdown note per dialog turn (speaker, date and session in the
 * frontmatter, with the caption of a photo the turn shared; the turn's text as the body), indexes it with `keel index`, asks every question of
 * categories 1-4 through `keel search --batch` (full-text only, vector only, hybrid), and prints
 * recall@1/5/10/25: the fraction of a question's evidence turns in the top k, averaged.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocomo, type LocomoQuestion } from './locomo';
import {
  buildWorkspace,
  KS,
  recallAt,
  scoredQuestions,
  searchAll,
  valueOf,
  type SearchMode,
} from './locomoWorkspace';

const MODES = ['text', 'vector', 'hybrid'] as const satisfies readonly SearchMode[];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file)
    throw new Error('usage: npm run eval:retrieval -- PATH/TO/locomo-dev.json [--keep DIR] [--json FILE]');
  const keep = valueOf(args, '--keep');
  const jsonOut = valueOf(args, '--json');
  const data = await readLocomo(file);
  const questions = scoredQuestions(data.questions);

  const root = keep ?? (await mkdtemp(join(tmpdir(), 'keel-locomo-')));
  const { workspace, indexSeconds } = await buildWorkspace(root, data.turns);
  const recalls = {} as Record<SearchMode, Record<number, number>>;
  const seconds = {} as Record<SearchMode, number>;
  for (const mode of MODES) {
    const started = Date.now();
    const answers = await searchAll(root, workspace, questions, mode);
    seconds[mode] = (Date.now() - started) / 1000;
    recalls[mode] = Object.fromEntries(
      KS.map((k) => [k, mean(questions.map((q) => recallAt(q, answers.get(q.id) ?? [], k)))]),
    );
  }
  report({
    file,
    turns: data.turns.length,
    questions,
    unknownEvidence: data.unknownEvidence,
    indexSeconds,
    recalls,
    seconds,
  });
  if (jsonOut)
    await writeFile(
      jsonOut,
      JSON.stringify(
        { turns: data.turns.length, questions: questions.length, recalls, indexSeconds, seconds },
        null,
        2,
      ),
    );
  if (!keep) await rm(root, { recursive: true, force: true });
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / (values.length || 1);
}

function report(r: {
  file: string;
  turns: number;
  questions: LocomoQuestion[];
  unknownEvidence: number;
  indexSeconds: number;
  recalls: Record<SearchMode, Record<number, number>>;
  seconds: Record<SearchMode, number>;
}): void {
  const byCategory = [1, 2, 3, 4]
    .map((c) => `${c}: ${r.questions.filter((q) => q.category === c).length}`)
    .join(', ');
  const lines = [
    `LoCoMo retrieval, ${r.file}`,
    `  workload: ${r.turns} turns as notes; ${r.questions.length} questions of categories 1-4 (${byCategory});`,
    `            ${r.unknownEvidence} malformed or unknown evidence ids ignored; indexed in ${r.indexSeconds.toFixed(1)} s`,
    '',
    `  ${'mode'.padEnd(10)}${KS.map((k) => `recall@${k}`.padStart(11)).join('')}   batch (s)`,
    ...MODES.map(
      (mode) =>
        `  ${mode.padEnd(10)}${KS.map((k) => r.recalls[mode][k]!.toFixed(3).padStart(11)).join('')}` +
        `${r.seconds[mode].toFixed(1).padStart(12)}`,
    ),
  ];
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
