/**
 * The chunks of the notes around a search's best matches (sequence.ts), read from the notes
 * themselves when that gives exactly what the index holds: the file's content is the one indexed
 * (the same git blob id as the writer's record) and it is small. The chunks come from the note's
 * layout (noteLayout.ts), which the writer keeps for nearly every note it indexes; a note indexed
 * before the daemon started is parsed at its first read and laid out then, if parsing it is cheap
 * (its lines and YAML are bounded: a parse here holds up every request), it dates itself (an
 * undated note's day is its file's time when it was indexed, which only the index keeps) and
 * LanceDB holds its strings as they are. Any other note is read from the index.
 *
 * Reading the neighbours from the index was one LanceDB query over the chunks of up to 50 notes:
 * 7-9 ms of a 23 ms search at 100,000 chunks (a query's cost grows with the places in the table it
 * reads more than with its rows). The walk reads the notes it needs one by one instead, 17 a search
 * on average: parsing each (0.15-0.25 ms: YAML, Markdown blocks, views) took 4.3 ms a search; by
 * their layouts (read, hash, slice: 0.06 ms) 1.0 ms.
 */
import { parseFile } from './parse/index';
import { parsesQuickly } from './parse/quick';
import { chunkViewsOf, readIfFile, type ReadFile } from './indexBatch';
import { LAYOUT_MAX_BYTES, layoutOf, viewsOf, wellFormed } from './noteLayout';
import type { FileState } from './store/catalog';
import type { ChunkView } from './store/chunkIndex';

/**
 * What is parsed on the daemon's thread is bounded (parse/quick.ts); a note past these is read from
 * the index. Once per note and daemon: it is laid out then.
 */
const NOTE_READ_MAX_BYTES = LAYOUT_MAX_BYTES;
const NOTE_READ_BOUNDS = { chars: NOTE_READ_MAX_BYTES, lines: 500, yamlChars: 1024 };

export class NoteChunks {
  private readonly scratch: { buffer: Buffer; folders?: Set<string> } = {
    buffer: Buffer.allocUnsafe(NOTE_READ_MAX_BYTES + 1),
  };

  constructor(
    private readonly root: string,
    /** What the index holds of a path (the writer's record of it), if anything. */
    private readonly indexed: (path: string) => FileState | undefined,
  ) {}

  /**
   * The chunks of `path` in order, exactly as the index holds them, or null when only the index can
   * say (the file changed since, is large, unreadable, or reached through a link; or, not yet laid
   * out, it is long, has long YAML or is undated). `folders`: the folders already found real
   * folders by the reads just before this one, in the same synchronous stretch (a search's walk
   * between two index queries), checked once for all of them.
   */
  read(path: string, folders?: Set<string>): ChunkView[] | null {
    const state = this.indexed(path);
    if (!state || state.size > NOTE_READ_MAX_BYTES) return null;
    const file = this.readFile(path, folders);
    if (!file || file.text === null || file.blob !== state.blob) return null;
    if (state.layout) return viewsOf(path, file.text, state.layout);
    // Rejected (or empty) when indexed: the index has no chunks of it, whatever a parse here gives
    // (a note the worker gave up on may parse on this thread).
    if (state.chunks === 0) return [];
    // Indexed before this process started: parsed once, and laid out for the next read.
    if (!parsesQuickly(path, file.text, NOTE_READ_BOUNDS)) return null;
    const parsed = parseFile(path, file.text);
    // A note the index rejected has no chunks there.
    const views = !parsed.ok
      ? []
      : parsed.file.meta.date === null
        ? null
        : chunkViewsOf(path, parsed.file, parsed.file.meta.date);
    // A string LanceDB could not keep as it is, or not the chunks the writer counted: only the
    // index has the note as it holds it.
    if (views === null || !views.every(wellFormed)) return null;
    if (state.chunks !== undefined && views.length !== state.chunks) return null;
    // The record is the writer's for this very content: a new content gets a new record.
    state.layout = layoutOf(file.text, views) ?? undefined;
    return views;
  }

  /** The file, or null when it cannot be read (its permissions, a disk error): the index answers. */
  private readFile(path: string, folders: Set<string> | undefined): ReadFile | null {
    this.scratch.folders = folders;
    try {
      return readIfFile(this.root, path, this.scratch, NOTE_READ_MAX_BYTES);
    } catch {
      return null;
    } finally {
      this.scratch.folders = undefined;
    }
  }
}
