/**
 * The sequence prior: notes named in order in one folder (a chat export's messages, a journal's
 * days, a meeting series) and the chunks of one note are read in sequence, and what follows a
 * strong match often holds what it leads to: the answer to the question a message asks, the
 * outcome of a plan. After fusion, the chunk right after each of the best matches gains
 * `followingWeight` x that match's score, and the chunk right before it `precedingWeight` x, up to
 * just below the match's own score.
 * On LoCoMo (test/eval) hybrid recall@10 goes from 0.726 to 0.744; with the weights chosen on four
 * conversations and scored on the fifth (test/eval/crossValidate.ts), 0.739. Uncapped (a neighbour
 * could overtake the match the query named), the best weights of a smaller grid reached 0.738.
 * It costs a folder listing (remembered) and one read of the neighbours' chunks per search.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isIndexable } from './files';
import type { ChunkIndex, ChunkView } from './store/chunkIndex';

/** The best matches whose neighbours are lifted. */
export const SEQUENCE_ANCHORS = 10;
/** How far below the match that lifted it a neighbour stays at most. */
const NEIGHBOUR_GAP = 1e-6;
/** Folders whose order is remembered (with the folder's mtime, so a new note is seen). */
const REMEMBERED_FOLDERS = 256;

const collator = new Intl.Collator('en', { numeric: true });

/** The notes of each folder in name order ("D2-9" before "D2-10"), read from disk and remembered. */
export class FolderOrder {
  private readonly folders = new Map<string, { mtimeMs: number; names: string[] }>();

  constructor(private readonly root: string) {}

  /** The notes before and after `path` in its folder (null at either end, or when unreadable). */
  async around(path: string): Promise<{ previous: string | null; next: string | null }> {
    const slash = path.lastIndexOf('/');
    const folder = slash >= 0 ? path.slice(0, slash) : '';
    const names = await this.names(folder);
    const at = names.indexOf(path.slice(slash + 1));
    if (at < 0) return { previous: null, next: null };
    const full = (name: string | undefined): string | null =>
      name === undefined ? null : folder ? `${folder}/${name}` : name;
    return { previous: full(names[at - 1]), next: full(names[at + 1]) };
  }

  private async names(folder: string): Promise<string[]> {
    const dir = join(this.root, folder);
    const mtimeMs = await stat(dir).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    const known = this.folders.get(folder);
    if (known && known.mtimeMs === mtimeMs) return known.names;
    const entries = mtimeMs < 0 ? [] : await readdir(dir, { withFileTypes: true }).catch(() => []);
    const names = entries
      .filter((e) => e.isFile() && isIndexable(folder ? `${folder}/${e.name}` : e.name))
      .map((e) => e.name)
      .sort(collator.compare);
    if (this.folders.size >= REMEMBERED_FOLDERS) this.folders.delete(this.folders.keys().next().value!);
    this.folders.set(folder, { mtimeMs, names });
    return names;
  }
}

export interface Ranked {
  view: ChunkView;
  score: number;
}

/** `ranked` (best first) with the neighbours of its best SEQUENCE_ANCHORS lifted, re-sorted. */
export async function liftNeighbours(
  ranked: Ranked[],
  order: FolderOrder,
  index: ChunkIndex,
  where: string | null,
  weights: { followingWeight: number; precedingWeight: number },
): Promise<Ranked[]> {
  const anchors = ranked.slice(0, SEQUENCE_ANCHORS);
  if (anchors.length === 0 || (weights.followingWeight === 0 && weights.precedingWeight === 0)) return ranked;
  const notes = [...new Set(anchors.map(({ view }) => view.path))];
  const around = new Map(
    await Promise.all(notes.map(async (path) => [path, await order.around(path)] as const)),
  );
  const paths = new Set<string>();
  for (const [path, { previous, next }] of around) [path, previous, next].forEach((p) => p && paths.add(p));
  const chunks = await index.chunksAt([...paths], where);
  const chunksOf = new Map<string, ChunkView[]>();
  for (const chunk of chunks) chunksOf.set(chunk.path, [...(chunksOf.get(chunk.path) ?? []), chunk]);
  for (const list of chunksOf.values()) list.sort((a, b) => a.chunk - b.chunk);

  const lift = new Map<string, { view: ChunkView; bonus: number; anchor: number }>();
  const give = (view: ChunkView | undefined, bonus: number, anchor: number): void => {
    if (!view || bonus <= 0) return;
    const entry = lift.get(view.id);
    if (!entry || entry.bonus < bonus) lift.set(view.id, { view, bonus, anchor });
  };
  for (const { view, score } of anchors) {
    const { previous, next } = around.get(view.path)!;
    const own = chunksOf.get(view.path) ?? [];
    const at = own.findIndex((c) => c.id === view.id);
    give(
      at >= 0 && at + 1 < own.length ? own[at + 1] : chunksOf.get(next ?? '')?.[0],
      weights.followingWeight * score,
      score,
    );
    give(at > 0 ? own[at - 1] : chunksOf.get(previous ?? '')?.at(-1), weights.precedingWeight * score, score);
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
