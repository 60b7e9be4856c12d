/**
 * The chunks of the notes around a search's best matches (sequence.ts), read from the notes
 * themselves when that gives exactly what the index holds: the file's content is the one indexed
 * (the same git blob id as the writer's record), it is small, and it dates itself (an undated
 * note's day is its file's time when it was indexed, which only the index keeps). Any other note
 * is read from the index.
 *
 * Reading the neighbours from the index was one LanceDB query over the chunks of up to 50 notes:
 * 7-9 ms of a 23 ms search at 100,000 chunks (a query's cost grows with the places in the table it
 * reads more than with its rows). The walk reads the notes it needs one by one instead, 16 a search
 * on average, at 0.15-0.25 ms each (read, hash, parse); 0.04 ms for a note kept parsed, by path and
 * content. The benchmark's 32 clients searched 58.6 times a second instead of 40.6.
 */
import { parseFile } from './parse/index';
import { chunkViewsOf, readIfFile, type ReadFile } from './indexBatch';
import type { FileState } from './store/catalog';
import type { ChunkView } from './store/chunkIndex';

/** Larger notes are read from the index: parsing one on the daemon's thread would hold searches up. */
const NOTE_READ_MAX_BYTES = 64 * 1024;
/** The notes kept parsed, by path and content: at most this many bytes of them (about 170 notes). */
const KEPT_BYTES = 512 * 1024;

export class NoteChunks {
  private readonly kept = new Map<string, { views: ChunkView[]; bytes: number }>();
  private keptBytes = 0;
  private readonly scratch = { buffer: Buffer.allocUnsafe(NOTE_READ_MAX_BYTES) };

  constructor(
    private readonly root: string,
    /** What the index holds of a path (the writer's record of it), if anything. */
    private readonly indexed: (path: string) => FileState | undefined,
  ) {}

  /**
   * The chunks of `path` in order, exactly as the index holds them, or null when only the index can
   * say (the file changed since, is large, undated, unreadable, or reached through a link).
   */
  read(path: string): ChunkView[] | null {
    const state = this.indexed(path);
    if (!state || state.size > NOTE_READ_MAX_BYTES) return null;
    const file = this.readFile(path);
    if (!file || file.text === null || file.blob !== state.blob) return null;
    const key = `${path}\0${file.blob}`;
    const known = this.kept.get(key);
    if (known) {
      // Most recently used last: the first entry is the one to forget.
      this.kept.delete(key);
      this.kept.set(key, known);
      return known.views;
    }
    const parsed = parseFile(path, file.text);
    // A note the index rejected has no chunks there.
    const views = !parsed.ok
      ? []
      : parsed.file.meta.date === null
        ? null
        : chunkViewsOf(path, parsed.file, parsed.file.meta.date);
    if (views === null) return null;
    this.keep(key, { views, bytes: file.stat.size });
    return views;
  }

  /** The file, or null when it cannot be read (its permissions, a disk error): the index answers. */
  private readFile(path: string): ReadFile | null {
    try {
      return readIfFile(this.root, path, this.scratch, NOTE_READ_MAX_BYTES);
    } catch {
      return null;
    }
  }

  private keep(key: string, note: { views: ChunkView[]; bytes: number }): void {
    while (this.keptBytes + note.bytes > KEPT_BYTES && this.kept.size > 0) {
      const [oldest, { bytes }] = this.kept.entries().next().value!;
      this.kept.delete(oldest);
      this.keptBytes -= bytes;
    }
    this.kept.set(key, note);
    this.keptBytes += note.bytes;
  }
}
