/**
 * The benchmark's workspace: keel.yaml and seeded Markdown notes under memory/, generated until a
 * target chunk count (or note count) is reached. Chunks are counted with the daemon's own parser,
 * so the count the benchmark waits for is exact. The same seed gives byte-identical files; a
 * generated workspace is cached (it is read-only afterwards: each run indexes a copy of it).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_CONFIG_YAML } from '@keel/schemas';
import { parseFile } from '../../../daemon/src/memory/parse/index';
import { generateNote, NOTE_MIX, type NoteType } from './notes';
import { Random } from './random';
import { TextWriter } from './text';
import { buildVocabulary } from './vocabulary';

/** Bump when the generator's output changes, so stale caches are not reused. */
const GENERATOR_VERSION = 1;

export interface WorkloadTarget {
  seed: number;
  /** Stop once this many chunks are generated... */
  chunks?: number;
  /** ...or once this many notes are. */
  notes?: number;
}

export interface NoteEntry {
  path: string;
  type: NoteType;
  tags: string[];
  date: string;
  chunks: number;
}

export interface Manifest {
  version: number;
  seed: number;
  notes: number;
  chunks: number;
  bytes: number;
  byType: Record<string, number>;
  entries: NoteEntry[];
}

export interface Workload {
  /** The pristine generated workspace (never indexed in place). */
  workspace: string;
  manifest: Manifest;
  /** Whether it came from the cache. */
  cached: boolean;
  generateMs: number;
}

export async function loadOrGenerate(
  target: WorkloadTarget,
  cacheRoot = defaultCacheRoot(),
): Promise<Workload> {
  const size = target.notes !== undefined ? `n${target.notes}` : `c${target.chunks ?? 100_000}`;
  const dir = join(cacheRoot, `v${GENERATOR_VERSION}-s${target.seed}-${size}`);
  const manifestPath = join(dir, 'manifest.json');
  const workspace = join(dir, 'workspace');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    return { workspace, manifest, cached: true, generateMs: 0 };
  }
  const started = performance.now();
  await rm(dir, { recursive: true, force: true });
  const manifest = await generateWorkspace(workspace, target);
  // Written last: its presence means the workspace is complete.
  await writeFile(manifestPath, JSON.stringify(manifest));
  return { workspace, manifest, cached: false, generateMs: performance.now() - started };
}

export function defaultCacheRoot(): string {
  return process.env.KEEL_BENCH_CACHE ?? join(tmpdir(), 'keel-bench-cache');
}

export async function generateWorkspace(workspace: string, target: WorkloadTarget): Promise<Manifest> {
  if (target.chunks === undefined && target.notes === undefined) throw new Error('give chunks or notes');
  const root = new Random(target.seed);
  const writer = new TextWriter(root.fork('notes'), buildVocabulary(root.fork('vocabulary')));
  const types = NOTE_MIX.map(([type]) => type);
  const weights = NOTE_MIX.map(([, weight]) => weight);
  const manifest: Manifest = {
    version: GENERATOR_VERSION,
    seed: target.seed,
    notes: 0,
    chunks: 0,
    bytes: 0,
    byType: {},
    entries: [],
  };
  const taken = new Set<string>();
  const made = new Set<string>();
  await mkdir(workspace, { recursive: true });
  await writeFile(join(workspace, 'keel.yaml'), DEFAULT_CONFIG_YAML);
  await writeFile(join(workspace, '.gitignore'), '.keel/\n');
  while (!reached(manifest, target)) {
    const note = generateNote(writer, types[weightedIndex(writer.random, weights)]!);
    const path = uniquePath(note.path, taken);
    const parsed = parseFile(path, note.content);
    if (!parsed.ok) throw new Error(`generated an unparseable note ${path}: ${parsed.problem.message}`);
    const chunks = parsed.file.chunks.length;
    const file = join(workspace, path);
    if (!made.has(dirname(file))) {
      await mkdir(dirname(file), { recursive: true });
      made.add(dirname(file));
    }
    await writeFile(file, note.content);
    manifest.entries.push({ path, type: note.type, tags: note.tags, date: note.date, chunks });
    manifest.notes++;
    manifest.chunks += chunks;
    manifest.bytes += Buffer.byteLength(note.content);
    manifest.byType[note.type] = (manifest.byType[note.type] ?? 0) + 1;
  }
  return manifest;
}

function reached(manifest: Manifest, target: WorkloadTarget): boolean {
  if (target.notes !== undefined) return manifest.notes >= target.notes;
  return manifest.chunks >= (target.chunks ?? 0);
}

function weightedIndex(random: Random, weights: number[]): number {
  let roll = random.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    roll -= weights[i]!;
    if (roll < 0) return i;
  }
  return weights.length - 1;
}

/** Two notes about the same company on the same day get `-2`, `-3`...: a person would do the same. */
function uniquePath(path: string, taken: Set<string>): string {
  let candidate = path;
  for (let n = 2; taken.has(candidate); n++) candidate = path.replace(/\.md$/, `-${n}.md`);
  taken.add(candidate);
  return candidate;
}
