/**
 * Memory as of a date: searches answered from a past commit's notes. Each commit's index is built
 * once (snapshotRows.ts: the live pipeline over git blobs) into `.keel/cache/as-of/<commit>/` and
 * kept for the next audit of the same moment; only the few most recently used stay on disk.
 *
 * Build time, measured on a 2-core machine with the local embedder: 3,000 short notes (6,000
 * chunks) build in 8-10 s, about 3 s per thousand notes; a cached commit then answers in 0.1-0.35 s
 * (one git process to resolve the date, and an exhaustive vector scan below 20,000 chunks).
 */
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AsOf, asOfKind, type MemorySnapshot, type SearchFilter, type SearchResult } from '@keel/schemas';
import { OperatorError } from '../../errors';
import { keelDir, removePlantedLink } from '../../files/workspacePaths';
import type { Logger } from '../../log';
import { commitAt, commitById, type HistoricCommit } from '../../workspace/gitHistory';
import { searchChunks, type SearchMode } from '../search';
import { ChunkIndex } from '../store/chunkIndex';
import { snapshotRows, type SnapshotBuilt, type SnapshotSource } from './snapshotRows';

/** Commits whose index stays on disk (the most recently searched). */
export const KEPT_SNAPSHOTS = 4;
/** Commits whose index stays open between searches. */
const OPEN_SNAPSHOTS = 2;
const MARKER = 'snapshot.json';

export interface SnapshotOptions extends SnapshotSource {
  log: Logger;
  /** The live index's identity (format and embedder): a cached snapshot of another is rebuilt. */
  identity: string;
  /** The operator's day (YYYY-MM-DD) at a moment: staleness counts from it. */
  localDay: (moment: Date) => string;
}

export interface SnapshotQuery {
  query: string;
  k: number;
  filter?: SearchFilter | undefined;
  asOf: AsOf;
}

interface Marker {
  identity: string;
  commit: string;
  committedAt: string;
  documents: number;
  chunks: number;
  skipped: string[];
  buildMs: number;
}

interface OpenSnapshot {
  marker: Marker;
  index: ChunkIndex;
  cached: boolean;
  /** Searches using the index now: an evicted snapshot closes when the last one ends. */
  leases: number;
  evicted: boolean;
}

export class MemorySnapshots {
  /** Open (or opening, or building) snapshots by commit, least recently used first. */
  private readonly open = new Map<string, Promise<OpenSnapshot>>();
  /**
   * Searches in flight by commit, from the moment the commit is known until the answer: the cache
   * trim never removes their folders (a snapshot pushed out of `open` by newer ones may still be
   * building or being searched).
   */
  private readonly inUse = new Map<string, number>();

  constructor(private readonly options: SnapshotOptions) {}

  async search(
    query: SnapshotQuery,
    mode: SearchMode,
    maxAgeDays: number,
  ): Promise<{ results: SearchResult[]; snapshot: MemorySnapshot }> {
    const { commit, moment } = await this.resolve(query.asOf);
    const first = !this.open.has(commit.commit);
    this.inUse.set(commit.commit, (this.inUse.get(commit.commit) ?? 0) + 1);
    let snapshot: OpenSnapshot;
    let results: SearchResult[];
    try {
      snapshot = await this.snapshot(commit);
      snapshot.leases++;
      const today = this.options.localDay(moment);
      results = await searchChunks(
        snapshot.index,
        this.options.embedder,
        { query: query.query, k: query.k, filter: query.filter, maxAgeDays, today, now: moment },
        mode,
      ).finally(() => {
        if (--snapshot.leases === 0 && snapshot.evicted) void closeIndex(snapshot);
      });
    } finally {
      const left = this.inUse.get(commit.commit)! - 1;
      if (left === 0) this.inUse.delete(commit.commit);
      else this.inUse.set(commit.commit, left);
    }
    const { marker } = snapshot;
    return {
      results,
      snapshot: {
        commit: marker.commit,
        committedAt: marker.committedAt,
        requested: query.asOf,
        documents: marker.documents,
        cached: snapshot.cached || !first,
        buildMs: snapshot.cached || !first ? 0 : marker.buildMs,
        skipped: marker.skipped,
      },
    };
  }

  async close(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    for (const opening of open) await opening.then(evict, () => undefined);
  }

  /** The commit an "as of" value names, and the moment staleness counts from. */
  private async resolve(asOf: string): Promise<{ commit: HistoricCommit; moment: Date }> {
    // Checked here too (the router already did): an in-process caller reaches git only with this.
    const checked = AsOf.safeParse(asOf);
    if (!checked.success)
      throw new OperatorError(`as of ${JSON.stringify(asOf)}: ${checked.error.issues[0]?.message}`);
    const kind = asOfKind(asOf);
    if (kind === 'commit') {
      const commit = await commitById(this.options.root, asOf);
      return { commit, moment: new Date(commit.committedAt) };
    }
    const moment = momentOf(asOf, kind);
    return { commit: await commitAt(this.options.root, moment, asOf), moment };
  }

  /** The commit's index: open already, cached on disk, or built now (once, however many ask). */
  private snapshot(commit: HistoricCommit): Promise<OpenSnapshot> {
    let opening = this.open.get(commit.commit);
    if (opening) this.open.delete(commit.commit);
    else opening = this.load(commit);
    this.open.set(commit.commit, opening); // now the most recently used
    opening.catch(() => this.open.get(commit.commit) === opening && this.open.delete(commit.commit));
    while (this.open.size > OPEN_SNAPSHOTS) {
      const [oldest, evicted] = this.open.entries().next().value!;
      this.open.delete(oldest);
      void evicted.then(evict, () => undefined);
    }
    return opening;
  }

  private async load(commit: HistoricCommit): Promise<OpenSnapshot> {
    const dir = await this.commitDir(commit.commit);
    const marker = await readMarker(dir);
    const linked = (await readdir(dir, { recursive: true, withFileTypes: true })).some((e) =>
      e.isSymbolicLink(),
    );
    if (marker?.identity === this.options.identity && marker.commit === commit.commit && !linked) {
      await utimes(join(dir, MARKER), new Date(), new Date()).catch(() => undefined);
      const index = await this.openCached(dir, marker);
      if (index) return { marker, index, cached: true, leases: 0, evicted: false };
    }
    return this.build(commit, dir);
  }

  /** The cached index, or null when its folder was emptied or damaged since (it is built again). */
  private async openCached(dir: string, marker: Marker): Promise<ChunkIndex | null> {
    const { dimensions } = this.options.embedder;
    const index = await ChunkIndex.open(join(dir, 'lance'), dimensions, this.options.log).catch(() => null);
    if (!index) return null;
    const rows = await index.countRows().catch(() => -1);
    if (rows === marker.chunks) return index;
    await closeIndex({ index }).catch(() => undefined);
    return null;
  }

  private async build(commit: HistoricCommit, dir: string): Promise<OpenSnapshot> {
    const started = Date.now();
    // rm never follows a link: one planted inside is removed itself.
    await rm(join(dir, 'lance'), { recursive: true, force: true });
    const index = await ChunkIndex.open(
      join(dir, 'lance'),
      this.options.embedder.dimensions,
      this.options.log,
    );
    let built: SnapshotBuilt;
    try {
      // Batch by batch: the commit's notes are never all in memory at once.
      built = await snapshotRows(this.options, commit.commit, commit.committedAt, (paths, rows) =>
        index.replace(paths, rows),
      );
      await index.maintain({ optimize: false });
    } catch (error) {
      await closeIndex({ index });
      throw error;
    }
    const marker: Marker = {
      identity: this.options.identity,
      commit: commit.commit,
      committedAt: commit.committedAt,
      documents: built.documents,
      chunks: built.chunks,
      skipped: built.skipped,
      buildMs: Date.now() - started,
    };
    // The marker last, by rename: an interrupted build has none and is built again.
    await writeFile(join(dir, `${MARKER}.tmp`), JSON.stringify(marker));
    await rename(join(dir, `${MARKER}.tmp`), join(dir, MARKER));
    this.options.log.info('built the memory index of a past commit', {
      commit: commit.commit,
      documents: built.documents,
      chunks: built.chunks,
      ms: marker.buildMs,
    });
    await this.evict(commit.commit).catch((error: unknown) =>
      this.options.log.warn('cannot trim the as-of cache', { error }),
    );
    return { marker, index, cached: false, leases: 0, evicted: false };
  }

  /** `.keel/cache/as-of/<commit>`, a real folder (a planted link there is removed, not followed). */
  private async commitDir(commit: string): Promise<string> {
    if (!/^[0-9a-f]{40,64}$/.test(commit)) throw new Error(`git answered an unexpected commit id: ${commit}`);
    await removePlantedLink(join(await keelDir(this.options.root, 'cache'), 'as-of'));
    const cache = await keelDir(this.options.root, 'cache', 'as-of');
    await removePlantedLink(join(cache, commit));
    return keelDir(this.options.root, 'cache', 'as-of', commit);
  }

  /** Keeps the KEPT_SNAPSHOTS most recently used commits on disk (never one open or in use). */
  private async evict(keep: string): Promise<void> {
    const cache = await keelDir(this.options.root, 'cache', 'as-of');
    const entries = await readdir(cache, { withFileTypes: true });
    const used = await Promise.all(
      entries
        .filter((entry) => entry.isDirectory())
        .map(async (entry) => ({
          name: entry.name,
          at: (await stat(join(cache, entry.name, MARKER)).catch(() => null))?.mtimeMs ?? 0,
        })),
    );
    used.sort((a, b) => b.at - a.at);
    for (const { name } of used.slice(KEPT_SNAPSHOTS)) {
      if (name === keep || this.open.has(name) || this.inUse.has(name)) continue;
      await rm(join(cache, name), { recursive: true, force: true });
    }
  }
}

/** The end of a day (local time), or a date-time (local time unless it names a zone). */
export function momentOf(asOf: string, kind: 'day' | 'dateTime'): Date {
  const text =
    kind === 'day' ? `${asOf}T23:59:59.999` : asOf.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const moment = new Date(text);
  const day = asOf.slice(0, 10);
  if (Number.isNaN(moment.getTime()) || (kind === 'day' && !sameDay(moment, day))) {
    throw new OperatorError(
      `${asOf} is not a date: give YYYY-MM-DD or an ISO date-time (2026-03-01T14:05:00Z).`,
    );
  }
  return moment;
}

/** Whether `moment` (local) falls on `day`: `2026-02-30` rolls over to March and is refused. */
function sameDay(moment: Date, day: string): boolean {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` === day;
}

async function readMarker(dir: string): Promise<Marker | null> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

/** Closes the snapshot now, or when its last search ends. */
function evict(snapshot: OpenSnapshot): Promise<void> {
  snapshot.evicted = true;
  return snapshot.leases === 0 ? closeIndex(snapshot) : Promise.resolve();
}

async function closeIndex(snapshot: { index: ChunkIndex }): Promise<void> {
  await snapshot.index.quiet();
  snapshot.index.close();
}
