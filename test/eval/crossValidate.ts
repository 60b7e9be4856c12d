/**
 * Leave-one-conversation-out cross-validation of the search settings (keel.yaml `memory.search`):
 *   npm run eval:crossvalidate -- PATH/TO/locomo-dev.json [--keep DIR] [--grid FILE.json]
 * indexes the LoCoMo workspace once, asks every question under each combination of settings in
 * the grid (settings only change how search ranks, so one index serves them all), then, for each
 * conversation in turn, picks the combination with the best recall@10 on the other conversations
 * and scores it on the one left out. The mean of those held-out scores is a figure the settings
 * were not fitted to. A grid file is `{ "vectorWeight": [0.2, 0.3], ... }` or a list of them (the
 * union is tried); each answer set is cached in DIR, so a wider grid only asks what is new.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { readLocomo, type LocomoQuestion } from './locomo';
import { buildWorkspace, recallAt, scoredQuestions, searchAll } from './locomoWorkspace';
import { valueOf } from './locomoWorkspace';

type Value = number | boolean;
type Settings = Record<string, Value>;
type Grid = Record<string, Value[]>;

/**
 * The settings tried: each grid's combinations, and the union of the grids. The sequence prior's
 * two weights; the fusion and structure weights; then how far the sequence prior reaches (1 was
 * the only reach before) and the term coverage weight (0 is without it), with the rest at their
 * defaults, so a fold can choose the ranking as it was before either. Each of them with the
 * neighbours lifted before the structure priors and after them (as before `sequenceFirst`).
 */
const DEFAULT_GRIDS: Grid[] = (
  [
    { followingWeight: [0, 0.3, 0.5, 0.7, 0.9, 1], precedingWeight: [0, 0.1, 0.2] },
    { vectorWeight: [0.2, 0.3, 0.4], folderWeight: [0.1, 0.2, 0.3] },
    { neighbourReach: [1, 2, 3], coverageWeight: [0, 0.2, 0.3, 0.4, 0.6] },
    { neighbourReach: [2, 3], neighbourDecay: [0.3, 0.7] },
  ] as Grid[]
).flatMap((grid) => [true, false].map((sequenceFirst) => ({ ...grid, sequenceFirst: [sequenceFirst] })));
const K = 10;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file)
    throw new Error(
      'usage: npm run eval:crossvalidate -- PATH/TO/locomo-dev.json [--keep DIR] [--grid FILE.json]',
    );
  const keep = valueOf(args, '--keep');
  const gridFile = valueOf(args, '--grid');
  const grids = gridFile
    ? [JSON.parse(await readFile(gridFile, 'utf8')) as Grid | Grid[]].flat()
    : DEFAULT_GRIDS;
  const data = await readLocomo(file);
  const questions = scoredQuestions(data.questions);
  const root = keep ?? (await mkdtemp(join(tmpdir(), 'keel-locomo-cv-')));
  const workspace = join(root, 'workspace');
  if (!existsSync(join(workspace, '.keel'))) await buildWorkspace(root, data.turns);
  const cache = join(root, 'cv-cache');
  await mkdir(cache, { recursive: true });

  const combinations = unique(grids.flatMap(product));
  const recalls = new Map<string, Map<string, number>>();
  for (const [i, settings] of combinations.entries()) {
    const key = JSON.stringify(settings);
    process.stderr.write(`[${i + 1}/${combinations.length}] ${key}\n`);
    recalls.set(key, await recallsUnder(root, workspace, cache, questions, settings));
  }
  await setSearchSettings(workspace, {});
  report(questions, recalls);
  if (!keep) await rm(root, { recursive: true, force: true });
}

/** Recall@K by question id under `settings`, from the cache or by asking. */
async function recallsUnder(
  root: string,
  workspace: string,
  cache: string,
  questions: LocomoQuestion[],
  settings: Settings,
): Promise<Map<string, number>> {
  const cached = join(
    cache,
    `${
      Object.entries(settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || 'defaults'
    }.json`,
  );
  if (existsSync(cached))
    return new Map(Object.entries(JSON.parse(await readFile(cached, 'utf8')) as Record<string, number>));
  await setSearchSettings(workspace, settings);
  const answers = await searchAll(root, workspace, questions, 'hybrid');
  const recalls = new Map(questions.map((q) => [q.id, recallAt(q, answers.get(q.id) ?? [], K)]));
  await writeFile(cached, JSON.stringify(Object.fromEntries(recalls)));
  return recalls;
}

/** Writes `memory.search` into the workspace's keel.yaml, as an operator would. */
async function setSearchSettings(workspace: string, settings: Settings): Promise<void> {
  const path = join(workspace, 'keel.yaml');
  const document = parseDocument(await readFile(path, 'utf8'));
  if (Object.keys(settings).length === 0) document.deleteIn(['memory', 'search']);
  else document.setIn(['memory', 'search'], document.createNode(settings));
  await writeFile(path, document.toString());
}

function report(questions: LocomoQuestion[], recalls: Map<string, Map<string, number>>): void {
  const conversations = [...new Set(questions.map((q) => q.conversation))];
  const meanOver = (key: string, keep: (q: LocomoQuestion) => boolean): number => {
    const chosen = questions.filter(keep);
    return chosen.reduce((sum, q) => sum + recalls.get(key)!.get(q.id)!, 0) / chosen.length;
  };
  const best = (keep: (q: LocomoQuestion) => boolean): string =>
    [...recalls.keys()].reduce((a, b) => (meanOver(b, keep) > meanOver(a, keep) ? b : a));
  const lines = [
    `Leave-one-conversation-out cross-validation, recall@${K}, ${recalls.size} setting combinations`,
  ];
  let heldOutQuestions = 0;
  let heldOutSum = 0;
  const foldScores: number[] = [];
  for (const held of conversations) {
    const chosen = best((q) => q.conversation !== held);
    const score = meanOver(chosen, (q) => q.conversation === held);
    const count = questions.filter((q) => q.conversation === held).length;
    heldOutQuestions += count;
    heldOutSum += score * count;
    foldScores.push(score);
    lines.push(
      `  held out ${held.padEnd(10)} (${String(count).padStart(3)} q): ${score.toFixed(3)}   chosen on the rest: ${chosen}`,
    );
  }
  const overall = best(() => true);
  lines.push(
    `  mean held-out recall@${K}: ${(heldOutSum / heldOutQuestions).toFixed(3)} over questions, ` +
      `${(foldScores.reduce((a, b) => a + b, 0) / foldScores.length).toFixed(3)} over folds`,
    `  best on all conversations: ${overall} (${meanOver(overall, () => true).toFixed(3)}, fitted, not a held-out figure)`,
  );
  console.log(lines.join('\n'));
}

/** Each combination once (keys in a fixed order, so a cached answer set is found again). */
function unique(combinations: Settings[]): Settings[] {
  const sorted = combinations.map((c) =>
    Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b))),
  );
  return [...new Map(sorted.map((c) => [JSON.stringify(c), c])).values()];
}

/** Every combination of the grid's values. */
function product(grid: Grid): Settings[] {
  return Object.entries(grid).reduce<Settings[]>(
    (combinations, [name, values]) =>
      combinations.flatMap((settings) => values.map((value) => ({ ...settings, [name]: value }))),
    [{}],
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
