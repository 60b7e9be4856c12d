/**
 * The cold index's floor (floors/indexFloor.ts), bundled as Keel's daemon is and run in its own
 * process over a copy of the same workspace, timed from its spawn like the daemon. The benchmark
 * runs it before and after Keel's cold index, so the ratio compares runs made under the same load.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { percentile, round } from '../stats';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const ASSET = join(REPO_ROOT, 'daemon', 'dist', 'keel-static-v1.glove100k.bin');

export interface IndexFloorResult {
  /** Pieces the floor wrote (it splits at headings only, so it may write fewer than Keel's chunks). */
  rows: number;
  /** Spawn until the rows are written, and until the full-text index is built. */
  readyMs: number;
  searchableMs: number;
}

export interface IndexFloorRatio {
  /** Keel's cold indexes, in order; floors[i] ran right before keel[i] and floors[i + 1] right after. */
  keel: { readyMs: number; searchableMs: number | null }[];
  floors: IndexFloorResult[];
  /** Keel's spawn-to-ready over each neighbouring floor run's: median, and min-max as the spread. */
  ready: { median: number; min: number; max: number };
  /** Keel's spawn-to-search-indexes over the floor's spawn-to-full-text-index. */
  searchable: { median: number; min: number; max: number } | null;
}

/** Bundles the floor script into `dir` (once per benchmark); returns the script's path. */
export async function bundleIndexFloor(dir: string): Promise<string> {
  const outfile = join(dir, 'index-floor.js');
  await build({
    entryPoints: [join(REPO_ROOT, 'test', 'bench', 'floors', 'indexFloor.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    external: ['@lancedb/lancedb', 'apache-arrow'],
    // The bundle runs from a temporary folder: resolve LanceDB from the repository.
    nodePaths: [join(REPO_ROOT, 'node_modules')],
  });
  return outfile;
}

/** One run of the floor over `workspace` (only read), its table in a new folder under `scratch`. */
export async function measureIndexFloor(
  script: string,
  workspace: string,
  scratch: string,
): Promise<IndexFloorResult> {
  const stateDir = await mkdtemp(join(scratch, 'floor-state-'));
  try {
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, [script, workspace, stateDir], {
      env: { ...process.env, KEEL_EMBEDDER_ASSET: ASSET, NODE_PATH: join(REPO_ROOT, 'node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let rows = 0;
    let readyMs = 0;
    let searchableMs = 0;
    for await (const line of createInterface({ input: child.stdout })) {
      const now = performance.now() - spawnedAt;
      if (line.startsWith('ready ')) [rows, readyMs] = [Number(line.slice(6)), now];
      if (line === 'searchable') searchableMs = now;
    }
    const code = await new Promise<number | null>((resolve) =>
      child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve),
    );
    if (code !== 0 || !searchableMs) throw new Error(`the index floor failed (exit ${code}): ${stderr}`);
    return { rows, readyMs: round(readyMs, 0), searchableMs: round(searchableMs, 0) };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

/**
 * Each Keel run's times over those of the floor runs on either side of it (the same workspace, the
 * nearest in time, so under the most similar load): how many times the floor Keel takes.
 */
export function indexFloorRatio(
  keel: { readyMs: number; searchableMs: number | null }[],
  floors: IndexFloorResult[],
): IndexFloorRatio {
  const spread = (ratios: number[]): { median: number; min: number; max: number } => {
    const sorted = [...ratios].sort((a, b) => a - b);
    return {
      median: round(percentile(sorted, 50), 2),
      min: round(sorted[0]!, 2),
      max: round(sorted.at(-1)!, 2),
    };
  };
  const neighbours = (i: number): IndexFloorResult[] => floors.slice(i, i + 2);
  const ready = keel.flatMap((run, i) => neighbours(i).map((f) => run.readyMs / f.readyMs));
  const searchable = keel.every((run) => run.searchableMs !== null)
    ? keel.flatMap((run, i) => neighbours(i).map((f) => run.searchableMs! / f.searchableMs))
    : [];
  return {
    keel,
    floors,
    ready: spread(ready),
    searchable: searchable.length > 0 ? spread(searchable) : null,
  };
}
