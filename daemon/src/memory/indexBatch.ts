/**
 * One batch of the index's writer before it is written: its files read and hashed, compared with
 * what the catalog recorded, the changed ones parsed and embedded. Preparing writes no store, so
 * the writer (indexer.ts) prepares the next batch while it writes this one; the comparison is only
 * right for paths no batch is still writing, which is why the writer never prepares those.
 */
import { constants } from 'node:fs';
import { openNoFollow, resolveInside, WorkspacePathError } from '../files/workspacePaths';
import type { PreparedFile } from '../runtime/workerTasks';
import type { Embedder } from './embed/embedder';
import { gitBlobId, isIndexable, type FileStat } from './files';
import { PARSE_LIMITS, tooLarge } from './parse/index';
import { inProcessPreparer, type FilePreparer, type FileToPrepare } from './prepare';
import { mentionsOf } from './rerank';
import type { DocumentRecord, FileState, RejectedRecord } from './store/catalog';
import type { ChunkRow } from './store/chunkIndex';

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
  /** Milliseconds per step, for the debug log. */
  phases: Record<string, number>;
}

const READ_CONCURRENCY = 32;
/** Files read before they go to the preparer (a few of its groups). */
const READ_SLICE = 128;

export async function prepareBatch(paths: string[], how: BatchPreparation): Promise<PreparedBatch> {
  const readAt = Date.now();
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round((now - mark) * 10) / 10;
    mark = now;
  };
  const files: ({ content: Buffer | null; stat: FileStat } | null)[] = [];
  const removed: string[] = [];
  const touchedOnly: PreparedBatch['touchedOnly'] = [];
  const changed: { path: string; file: { content: Buffer | null; stat: FileStat }; blob: string }[] = [];
  const preparer = how.preparer ?? inProcessPreparer;
  const embedded = how.embedInPreparer === true && preparer !== inProcessPreparer;
  // Read in slices, each handed to the preparer as soon as it is read: the worker parses one
  // slice while the next is read, instead of waiting for the whole batch.
  const preparing: Promise<PreparedFile[]>[] = [];
  for (let start = 0; start < paths.length; start += READ_SLICE) {
    const slice = paths.slice(start, start + READ_SLICE);
    // A path that is no longer indexable (a rule changed, a folder became hidden) counts as gone.
    const read = await mapLimit(slice, READ_CONCURRENCY, (path) =>
      isIndexable(path) ? readIfFile(how.root, path) : Promise.resolve(null),
    );
    const readable: FileToPrepare[] = [];
    slice.forEach((path, i) => {
      const file = read[i]!;
      files.push(file);
      const known = how.known(path);
      if (!file) {
        if (known) removed.push(path);
        return;
      }
      // A file too large to read is known by its size and time instead of its content.
      const blob = file.content ? gitBlobId(file.content) : `large:${file.stat.size}:${file.stat.mtimeMs}`;
      if (known?.blob === blob) {
        // Same content (a touch, a checkout of the same version): remember the new time only.
        if (known.mtimeMs !== file.stat.mtimeMs || known.size !== file.stat.size) {
          touchedOnly.push({ path, size: file.stat.size, mtimeMs: file.stat.mtimeMs });
        }
        return;
      }
      changed.push({ path, file, blob });
      if (file.content) readable.push({ path, content: file.content.toString('utf8') });
    });
    const prepared = preparer.prepare(readable, embedded);
    prepared.catch(() => undefined); // awaited below, after the other slices are read
    preparing.push(prepared);
  }
  lap('readMs');
  const fromPreparer = (await Promise.all(preparing)).flat();
  lap('prepareMs');
  const prepared = changed.map(({ path, file }): PreparedFile =>
    file.content
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
    const date = meta.date ?? new Date(file.stat.mtimeMs).toISOString().slice(0, 10);
    const mentions = mentionsOf(parsed.file.frontmatter);
    chunks.forEach((chunk, index) => {
      rows.push({
        id: `${path}#${index}`,
        path,
        chunk: index,
        start_line: chunk.startLine,
        end_line: chunk.endLine,
        heading: chunk.heading,
        text: chunk.text,
        search_text: searchTexts[index] ?? '',
        type: meta.type,
        tags: meta.tags,
        date,
        review_by: meta.reviewBy,
        mentions,
      });
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
 * The file's content and stat, or null when it is gone, not a regular file, or reached through a
 * link; the content is null for a file too large to read (it is reported, not indexed).
 */
async function readIfFile(
  root: string,
  path: string,
): Promise<{ content: Buffer | null; stat: FileStat } | null> {
  try {
    const handle = await openNoFollow(await resolveInside(root, path), constants.O_RDONLY);
    if (handle === null) return null;
    try {
      const info = await handle.stat();
      if (!info.isFile()) return null;
      const content = info.size > PARSE_LIMITS.maxFileBytes ? null : await handle.readFile();
      return { content, stat: { size: content?.length ?? info.size, mtimeMs: info.mtimeMs } };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof WorkspacePathError) return null;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return null;
    throw error;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
