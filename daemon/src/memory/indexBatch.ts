/**
 * One batch of the index's writer before it is written: its files read and hashed, compared with
 * what the catalog recorded, the changed ones parsed and embedded. Preparing writes no store, so
 * the writer (indexer.ts) prepares the next batch while it writes this one; the comparison is only
 * right for paths no batch is still writing, which is why the writer never prepares those.
 */
import { closeSync, constants, fstatSync, readSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import { openNoFollowSync, resolveInsideSync, WorkspacePathError } from '../files/workspacePaths';
import type { PreparedFile } from '../runtime/workerTasks';
import type { Embedder } from './embed/embedder';
import { gitBlobId, isIndexable, type FileStat } from './files';
import { PARSE_LIMITS, tooLarge, type NoteMeta, type ParsedFile } from './parse/index';
import { parsesQuickly } from './parse/quick';
import { inProcessPreparer, type FilePreparer, type FileToPrepare } from './prepare';
import { LAYOUT_MAX_BYTES, layoutOf, type NoteLayout } from './noteLayout';
import { mentionsOf } from './rerank';
import type { DocumentRecord, FileState, RejectedRecord } from './store/catalog';
import type { ChunkRow, ChunkView } from './store/chunkIndex';

export interface BatchPreparation {
  root: string;
  embedder: Embedder;
  preparer?: FilePreparer;
  /** Whether the preparer computes the vectors (it runs the same local embedder as `embedder`). */
  embedInPreparer?: boolean;
  /** What the catalog recorded for a path (the writer's in-memory copy). */
  known: (path: string) => FileState | undefined;
}

/** What writing the batch changes, ready to go to LanceDB and then the catalog. */
export interface PreparedBatch {
  paths: string[];
  /** When the files were read, and each one's stat (null: gone), for the racy-time check. */
  readAt: number;
  stats: (FileStat | null)[];
  indexed: DocumentRecord[];
  rejected: RejectedRecord[];
  removed: string[];
  /** Same content, new size or time: only the catalog's record changes. */
  touchedOnly: { path: string; size: number; mtimeMs: number }[];
  rows: ChunkRow[];
  /** Where each indexed or rejected note's chunks are in its file (noteLayout.ts), where known. */
  layouts: Map<string, NoteLayout>;
  /** Milliseconds per step, for the debug log. */
  phases: Record<string, number>;
}

/**
 * A batch of this few files (a save), each within these bounds (parse/quick.ts), is parsed and
 * embedded on the daemon's own thread: 0.1-0.6 ms for a note (median; at worst 5-8 ms, the shapes
 * of test/security/saveParseThread.test.ts and others, bundled). The worker thread waits for a core
 * on a busy machine: while the benchmark's two searches ran, a small note's trip there and back
 * took 1-10 ms of a save's way to search. Save to searchable p50: 12.9-15.3 ms -> 10.4-12.0 ms
 * (profile/saveOnly.ts, four rounds of 40 saves alternated with the build before, 100,000 chunks).
 */
const HERE_FILES = 2;
const HERE_BOUNDS = { chars: 8 * 1024, lines: 200, yamlChars: 256 };

/** Files read before they go to the preparer (a few of its groups). */
const READ_SLICE = 128;
/**
 * Files, or bytes, read in a row before the event loop gets a turn (about a millisecond of
 * reading from the page cache): the reads are synchronous, see readFiles.
 */
const READ_TURN_FILES = 32;
const READ_TURN_BYTES = 1024 * 1024;

export async function prepareBatch(paths: string[], how: BatchPreparation): Promise<PreparedBatch> {
  const readAt = Date.now();
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round((now - mark) * 10) / 10;
    mark = now;
  };
  const files: (ReadFile | null)[] = [];
  const removed: string[] = [];
  const touchedOnly: PreparedBatch['touchedOnly'] = [];
  const changed: { path: string; file: ReadFile; blob: string }[] = [];
  const preparer = how.preparer ?? inProcessPreparer;
  const embedded = how.embedInPreparer === true && preparer !== inProcessPreparer;
  // Read in slices, each handed to the preparer as soon as it is read: the worker parses one
  // slice while the next is read, instead of waiting for the whole batch.
  const preparing: Promise<PreparedFile[]>[] = [];
  for (let start = 0; start < paths.length; start += READ_SLICE) {
    const slice = paths.slice(start, start + READ_SLICE);
    // A path that is no longer indexable (a rule changed, a folder became hidden) counts as gone.
    const read = await readFiles(how.root, slice);
    const readable: FileToPrepare[] = [];
    slice.forEach((path, i) => {
      const file = read[i]!;
      files.push(file);
      const known = how.known(path);
      if (!file) {
        if (known) removed.push(path);
        return;
      }
      const { blob } = file;
      if (known?.blob === blob) {
        // Same content (a touch, a checkout of the same version): remember the new time only.
        if (known.mtimeMs !== file.stat.mtimeMs || known.size !== file.stat.size) {
          touchedOnly.push({ path, size: file.stat.size, mtimeMs: file.stat.mtimeMs });
        }
        return;
      }
      changed.push({ path, file, blob });
      if (file.text !== null) readable.push({ path, content: file.text });
    });
    const here =
      paths.length <= HERE_FILES && readable.every((f) => parsesQuickly(f.path, f.content, HERE_BOUNDS));
    // Should a parse here throw, the worker reports the file's problem as it does for any file.
    const prepared = here
      ? inProcessPreparer.prepare(readable, false).catch(() => preparer.prepare(readable, embedded))
      : preparer.prepare(readable, embedded);
    prepared.catch(() => undefined); // awaited below, after the other slices are read
    preparing.push(prepared);
  }
  lap('readMs');
  const fromPreparer = (await Promise.all(preparing)).flat();
  lap('prepareMs');
  const prepared = changed.map(({ path, file }): PreparedFile =>
    file.text !== null
      ? fromPreparer.shift()!
      : { parsed: tooLarge(path, file.stat.size, PARSE_LIMITS.maxFileBytes), searchTexts: [], vectors: null },
  );
  const { indexed, rejected, rows, vectors } = toRecords(changed, prepared);
  // Rows the preparer did not embed (another embedder, or the in-process preparer) are embedded here.
  const missing = rows.flatMap((_, i) => (vectors[i] ? [] : [i]));
  if (missing.length > 0) {
    const computed = await how.embedder.embedDocuments(missing.map((i) => rows[i]!.search_text));
    missing.forEach((row, j) => (vectors[row] = computed[j]!));
  }
  lap('embedMs');
  return {
    paths,
    readAt,
    stats: files.map((file) => file?.stat ?? null),
    indexed,
    rejected,
    removed,
    touchedOnly,
    rows: rows.map((row, i) => ({ ...row, vector: vectors[i]! })),
    layouts: layoutsOf(changed, rows),
    phases,
  };
}

/**
 * The catalog's records and the index's rows (vectors apart) of the changed files; also of a past
 * commit's notes (history/snapshotRows.ts), so both indexes hold the same rows.
 */
export function toRecords(
  changed: { path: string; file: { stat: FileStat }; blob: string }[],
  prepared: PreparedFile[],
): {
  indexed: DocumentRecord[];
  rejected: RejectedRecord[];
  rows: Omit<ChunkRow, 'vector'>[];
  vectors: (Float32Array | null)[];
} {
  const indexed: DocumentRecord[] = [];
  const rejected: RejectedRecord[] = [];
  const rows: Omit<ChunkRow, 'vector'>[] = [];
  const vectors: (Float32Array | null)[] = [];
  changed.forEach(({ path, file, blob }, i) => {
    const record = { path, blob, size: file.stat.size, mtimeMs: file.stat.mtimeMs };
    const { parsed, searchTexts, vectors: fileVectors } = prepared[i]!;
    if (!parsed.ok) {
      rejected.push({ ...record, problem: parsed.problem });
      return;
    }
    const { meta, chunks } = parsed.file;
    const date = noteDate(meta, file.stat.mtimeMs);
    chunkViewsOf(path, parsed.file, date).forEach((view, index) => {
      rows.push({ ...view, search_text: searchTexts[index] ?? '' });
      vectors.push(fileVectors?.[index] ?? null);
    });
    indexed.push({
      ...record,
      kind: parsed.file.kind,
      type: meta.type,
      title: meta.title,
      tags: meta.tags,
      date,
      reviewBy: meta.reviewBy,
      frontmatter: parsed.file.frontmatter,
      chunks: chunks.map((c, index) => ({
        chunk: index,
        startLine: c.startLine,
        endLine: c.endLine,
        heading: c.heading,
        chars: c.text.length,
      })),
      problems: parsed.file.problems,
    });
  });
  return { indexed, rejected, rows, vectors };
}

/**
 * The layout in its file of each changed note small enough to be read back from it; a rejected
 * note's has no chunks, as in the index.
 */
function layoutsOf(
  changed: { path: string; file: ReadFile }[],
  rows: Omit<ChunkRow, 'vector'>[],
): Map<string, NoteLayout> {
  const viewsOf = new Map<string, ChunkView[]>();
  for (const row of rows) {
    const views = viewsOf.get(row.path);
    if (views) views.push(row);
    else viewsOf.set(row.path, [row]);
  }
  const layouts = new Map<string, NoteLayout>();
  for (const { path, file } of changed) {
    if (file.text === null || file.stat.size > LAYOUT_MAX_BYTES) continue;
    const layout = layoutOf(file.text, viewsOf.get(path) ?? []);
    if (layout) layouts.set(path, layout);
  }
  return layouts;
}

/** A note's day: its frontmatter's, else its file's modification day (as indexed). */
export function noteDate(meta: NoteMeta, mtimeMs: number): string {
  return meta.date ?? new Date(mtimeMs).toISOString().slice(0, 10);
}

/** What the index shows of each chunk of a parsed note (its rows without indexed text and vector). */
export function chunkViewsOf(path: string, file: ParsedFile, date: string): ChunkView[] {
  const { meta } = file;
  const mentions = mentionsOf(file.frontmatter);
  return file.chunks.map((chunk, index) => ({
    id: `${path}#${index}`,
    path,
    chunk: index,
    start_line: chunk.startLine,
    end_line: chunk.endLine,
    heading: chunk.heading,
    text: chunk.text,
    type: meta.type,
    tags: meta.tags,
    date,
    review_by: meta.reviewBy,
    mentions,
  }));
}

/**
 * Each of `paths` read (null: gone, not a regular file, reached through a link, or no longer
 * indexable), in this thread. Through promises each file took five trips through the thread pool
 * (the folder checks, open, stat, read, close): reading the 18,102 notes of the benchmark's
 * workspace took 3.0 s and 5 s of CPU that way, 0.5 s so. The files are read into one buffer and
 * kept as their text and blob id: a buffer per file made the daemon collect garbage three times
 * as long. The event loop gets a turn every few files, so a search waits about a millisecond.
 */
async function readFiles(root: string, paths: string[]): Promise<(ReadFile | null)[]> {
  const read: (ReadFile | null)[] = [];
  const scratch = { buffer: Buffer.allocUnsafe(64 * 1024), folders: new Set<string>() };
  let files = 0;
  let bytes = 0;
  for (const path of paths) {
    if (files >= READ_TURN_FILES || bytes >= READ_TURN_BYTES) {
      await setImmediate();
      [files, bytes] = [0, 0];
      // Checked again after the turn: anything may have changed meanwhile.
      scratch.folders.clear();
    }
    const file = isIndexable(path) ? readIfFile(root, path, scratch) : null;
    read.push(file);
    files += 1;
    bytes += file?.stat.size ?? 0;
  }
  return read;
}

export interface ReadFile {
  stat: FileStat;
  /** git's blob id of the content; for a file too large to read, its size and time instead. */
  blob: string;
  /** The content as UTF-8 text; null for a file too large to read (it is reported, not indexed). */
  text: string | null;
}

/**
 * A file as readFiles reads it, through `scratch`: its buffer (grown when a file needs more room),
 * and the folders already found real folders in this synchronous stretch of reads, if it keeps
 * them. A file larger than `max` bytes is not read (its text is null).
 */
export function readIfFile(
  root: string,
  path: string,
  scratch: { buffer: Buffer; folders?: Set<string> },
  max = PARSE_LIMITS.maxFileBytes,
): ReadFile | null {
  try {
    const fd = openNoFollowSync(resolveInsideSync(root, path, scratch.folders), constants.O_RDONLY);
    if (fd === null) return null;
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) return null;
      const content = info.size > max ? null : readAtMost(fd, info.size, max, scratch);
      if (content === null) {
        // Larger than the limit (or grown past it after the stat): known by size and time.
        const size = Math.max(info.size, max + 1);
        return { stat: { size, mtimeMs: info.mtimeMs }, blob: `large:${size}:${info.mtimeMs}`, text: null };
      }
      return {
        stat: { size: content.length, mtimeMs: info.mtimeMs },
        blob: gitBlobId(content),
        text: content.toString('utf8'),
      };
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof WorkspacePathError) return null;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * What `fd` holds (`expected` bytes by its stat) as a view of `scratch`, valid until its next
 * read; null once it passes `maxBytes` (a file that grew after its stat).
 */
function readAtMost(
  fd: number,
  expected: number,
  maxBytes: number,
  scratch: { buffer: Buffer },
): Buffer | null {
  let total = 0;
  for (;;) {
    // Room for a byte more than expected or read so far: a file that grew is noticed.
    const needed = Math.min(maxBytes + 1, Math.max(expected, total) + 1);
    if (scratch.buffer.length < needed) {
      const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(needed, scratch.buffer.length * 2)));
      scratch.buffer.copy(grown, 0, 0, total);
      scratch.buffer = grown;
    }
    const bytesRead = readSync(fd, scratch.buffer, total, scratch.buffer.length - total, null);
    if (bytesRead === 0) return scratch.buffer.subarray(0, total);
    total += bytesRead;
    if (total > maxBytes) return null;
  }
}
