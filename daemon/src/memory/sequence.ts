/**
 * The sequence prior: notes named in order in one folder (a chat export's messages, a journal's
 * days, a meeting series) and the chunks of one note are read in sequence, and what follows a
 * strong match often holds what it leads to: the answer to the question a message asks, the
 * outcome of a plan. After fusion, the chunk right after each of the best matches gains
 * `followingWeight` x that match's score, and the chunk right before it `precedingWeight` x, up to
 * just below the match's own score. The lift reaches `neighbourReach` chunks on either side, halved
 * (`neighbourDecay`) at each step: a reply often only says it will look, and the answer comes in
 * the message after it.
 * On LoCoMo (test/eval) hybrid recall@10 goes from 0.726 to 0.744 reaching one chunk; with the
 * weights chosen on four conversations and scored on the fifth (test/eval/crossValidate.ts), 0.739.
 * Reaching two adds about 0.01 (three: nothing more). Uncapped (a neighbour could overtake the
 * match the query named), the best weights of a smaller grid reached 0.738.
 * By default (`sequenceFirst`) the neighbours of the best fused matches are lifted before the
 * structure priors (rerank.ts), which then score a lifted reply on its own words, speaker and
 * folder as any other candidate: on LoCoMo hybrid recall@10 0.763 -> 0.780 at the same weights.
 * It costs a folder listing (remembered) and a read of the neighbours' chunks per search: from the
 * notes themselves where they are the files indexed (noteChunks.ts), else one query of the index.
 */
import { lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isIndexableFolder, isIndexableIn } from './files';
import type { ChunkView } from './store/chunkIndex';

/** The best matches whose neighbours are lifted. */
export const SEQUENCE_ANCHORS = 10;
/** How far below the match that lifted it a neighbour stays at most. */
const NEIGHBOUR_GAP = 1e-6;
/** Folders whose order is remembered (with the folder's mtime, so a new note is seen). */
const REMEMBERED_FOLDERS = 256;

/** Made at first use: creating a collator loads ICU's data, 10-30 ms a `keel` start need not pay. */
let collator: Intl.Collator | undefined;

/** The notes of each folder in name order ("D2-9" before "D2-10"), read from disk and remembered. */
export class FolderOrder {
  private readonly folders = new Map<string, { mtimeMs: number; names: string[] }>();

  constructor(private readonly root: string) {}

  /**
   * The notes before and after `path` in its folder, nearest first, up to `reach` on each side
   * (none at either end, or when unreadable).
   */
  async around(path: string, reach = 1): Promise<{ before: string[]; after: string[] }> {
    const slash = path.lastIndexOf('/');
    const folder = slash >= 0 ? path.slice(0, slash) : '';
    const names = await this.names(folder);
    const at = names.indexOf(path.slice(slash + 1));
    if (at < 0) return { before: [], after: [] };
    const full = (name: string): string => (folder ? `${folder}/${name}` : name);
    return {
      before: names
        .slice(Math.max(0, at - reach), at)
        .reverse()
        .map(full),
      after: names.slice(at + 1, at + 1 + reach).map(full),
    };
  }

  private async names(folder: string): Promise<string[]> {
    const dir = join(this.root, folder);
    // Without the thread pool: a search asks for up to ten notes' folders at once, and ten trips
    // through it took 0.4 ms, as long as reading the neighbours.
    const mtimeMs = folderTime(dir);
    const known = this.folders.get(folder);
    if (known && known.mtimeMs === mtimeMs) return known.names;
    // The folder is checked once, each entry by its name: a chat export's folder holds thousands
    // of notes (the full path rule took 25-45 ms more for 10,000 on a restarted daemon's first search).
    const entries =
      mtimeMs < 0 || !isIndexableFolder(folder)
        ? []
        : await readdir(dir, { withFileTypes: true }).catch(() => []);
    const names = entries
      .filter((e) => e.isFile() && isIndexableIn(folder, e.name))
      .map((e) => e.name)
      .sort((collator ??= new Intl.Collator('en', { numeric: true })).compare);
    if (this.folders.size >= REMEMBERED_FOLDERS) this.folders.delete(this.folders.keys().next().value!);
    this.folders.set(folder, { mtimeMs, names });
    return names;
  }
}

/** A folder's modification time, or -1 when it is not a real folder (a link) or cannot be read. */
function folderTime(dir: string): number {
  try {
    const stat = lstatSync(dir, { throwIfNoEntry: false });
    return stat?.isDirectory() ? stat.mtimeMs : -1;
  } catch {
    return -1;
  }
}

export interface Ranked {
  view: ChunkView;
  score: number;
}

/** Where the lift reads the chunks of notes (those that pass the search's filter), in any order. */
export interface NoteChunkReader {
  /** One note's chunks read from the note itself, or null when only the index can say. */
  fromNote?: (path: string) => ChunkView[] | null;
  /** The chunks of `paths`, from the index. */
  fromIndex: (paths: string[]) => Promise<ChunkView[]>;
}

/**
 * `ranked` (best first) with the neighbours of its best SEQUENCE_ANCHORS lifted, re-sorted. The
 * chunk d steps after an anchor (through the note's own chunks, then the next notes' chunks) gains
 * followingWeight x neighbourDecay^(d-1) x the anchor's score, up to `neighbourReach` steps; the
 * chunks before it the same with precedingWeight.
 */
export async function liftNeighbours(
  ranked: Ranked[],
  order: FolderOrder,
  reader: NoteChunkReader,
  weights: {
    followingWeight: number;
    precedingWeight: number;
    neighbourReach: number;
    neighbourDecay: number;
  },
): Promise<Ranked[]> {
  const anchors = ranked.slice(0, SEQUENCE_ANCHORS);
  if (anchors.length === 0 || (weights.followingWeight === 0 && weights.precedingWeight === 0)) return ranked;
  const reach = Math.max(1, weights.neighbourReach);
  const notes = [...new Set(anchors.map(({ view }) => view.path))];
  const around = new Map(
    await Promise.all(notes.map(async (path) => [path, await order.around(path, reach)] as const)),
  );
  const chunks = new NeighbourNotes(
    reader,
    [...around].flatMap(([path, { before, after }]) => [path, ...before, ...after]),
  );
  await chunks.load(notes);

  // Each anchor's chunks in reading order away from it, nearest first, read a note at a time
  // until `reach` are known on each side (or the folder ends).
  const walks = anchors.map(({ view, score }) => {
    const own = chunks.of(view.path);
    const at = own.findIndex((c) => c.id === view.id);
    const { before, after } = around.get(view.path)!;
    return {
      score,
      following: { chunks: at >= 0 ? own.slice(at + 1) : [], notes: after, next: 0 },
      preceding: { chunks: at > 0 ? own.slice(0, at).reverse() : [], notes: before, next: 0 },
    };
  });
  const short = (side: { chunks: ChunkView[]; notes: string[]; next: number }): boolean =>
    side.chunks.length < reach && side.next < side.notes.length;
  for (;;) {
    const sides = walks.flatMap((walk) => [walk.following, walk.preceding]).filter(short);
    if (sides.length === 0) break;
    await chunks.load(sides.map((side) => side.notes[side.next]!));
    for (const walk of walks) {
      if (short(walk.following))
        walk.following.chunks.push(...chunks.of(walk.following.notes[walk.following.next++]!));
      if (short(walk.preceding))
        walk.preceding.chunks.push(...[...chunks.of(walk.preceding.notes[walk.preceding.next++]!)].reverse());
    }
  }

  const lift = new Map<string, { view: ChunkView; bonus: number; anchor: number }>();
  const give = (view: ChunkView | undefined, bonus: number, anchor: number): void => {
    if (!view || bonus <= 0) return;
    const entry = lift.get(view.id);
    if (!entry || entry.bonus < bonus) lift.set(view.id, { view, bonus, anchor });
  };
  for (const { score, following, preceding } of walks) {
    for (let d = 0; d < reach; d++) {
      const decay = weights.neighbourDecay ** d;
      give(following.chunks[d], weights.followingWeight * decay * score, score);
      give(preceding.chunks[d], weights.precedingWeight * decay * score, score);
    }
  }
  const out = new Map(ranked.map((r) => [r.view.id, { ...r }]));
  for (const [id, { view, bonus, anchor }] of lift) {
    const entry = out.get(id) ?? { view, score: 0 };
    // Never past the match that lifted it: that match is what the query asked for.
    entry.score = Math.max(entry.score, Math.min(entry.score + bonus, anchor - NEIGHBOUR_GAP));
    out.set(id, entry);
  }
  return [...out.values()].sort((a, b) => b.score - a.score || a.view.id.localeCompare(b.view.id));
}

/**
 * The chunks of the notes a lift reads, in order, loaded as the walk needs them: from the notes
 * themselves where the reader can, else from the index, in one query for every note the lift may
 * still need (a query costs the same for a few notes as for fifty).
 */
class NeighbourNotes {
  private readonly loaded = new Map<string, ChunkView[]>();

  constructor(
    private readonly reader: NoteChunkReader,
    /** Every note the lift may read. */
    private readonly candidates: string[],
  ) {}

  of(path: string): ChunkView[] {
    return this.loaded.get(path) ?? [];
  }

  async load(paths: string[]): Promise<void> {
    const fromIndex = new Set<string>();
    for (const path of new Set(paths)) {
      if (this.loaded.has(path)) continue;
      const views = this.reader.fromNote?.(path) ?? null;
      if (views) this.loaded.set(path, views);
      else fromIndex.add(path);
    }
    if (fromIndex.size === 0) return;
    for (const path of this.candidates) if (!this.loaded.has(path)) fromIndex.add(path);
    const chunksOf = new Map([...fromIndex].map((path) => [path, [] as ChunkView[]]));
    for (const chunk of await this.reader.fromIndex([...fromIndex])) chunksOf.get(chunk.path)?.push(chunk);
    for (const [path, list] of chunksOf)
      this.loaded.set(
        path,
        list.sort((a, b) => a.chunk - b.chunk),
      );
  }
}
