/**
 * A past commit's notes turned into index rows by the live pipeline: the same parser and chunker
 * (on the worker thread), the same searchable text, the same embedder. Only the source differs:
 * blobs from git instead of files on disk, read and indexed a batch at a time.
 */
import type { Embedder } from '../embed/embedder';
import { isIndexable } from '../files';
import { toRecords } from '../indexBatch';
import { PARSE_LIMITS } from '../parse/index';
import type { FilePreparer } from '../prepare';
import type { ChunkRow } from '../store/chunkIndex';
import { listTree, readBlobs, type TreeFile } from '../../workspace/gitHistory';

export interface SnapshotSource {
  root: string;
  embedder: Embedder;
  preparer: FilePreparer;
  /** Whether the preparer computes the vectors (the local embedder), as for the live index. */
  embedInPreparer: boolean;
}

export interface SnapshotBuilt {
  documents: number;
  chunks: number;
  skipped: string[];
}

/**
 * Notes per batch at most, and their bytes: what a build holds at once (blobs, chunks, vectors),
 * whatever the size of the commit. A note may have up to PARSE_LIMITS.maxFileBytes, so a batch
 * holds at least one note.
 */
export const BATCH_NOTES = 500;
export const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Every indexable note of `commit` as rows, handed to `write` one batch at a time (BATCH_NOTES,
 * BATCH_BYTES), each batch read from git, prepared and embedded only when the one before it is
 * written: a large workspace's history builds in bounded memory. A note's date without frontmatter
 * is the commit's day (the live index takes the file's time, which history does not keep).
 */
export async function snapshotRows(
  source: SnapshotSource,
  commit: string,
  committedAt: string,
  write: (paths: string[], rows: ChunkRow[]) => Promise<void>,
): Promise<SnapshotBuilt> {
  const listing = await listTree(source.root, commit, isIndexable);
  const skipped = [...listing.skipped];
  const max = PARSE_LIMITS.maxFileBytes;
  const readable = listing.files.filter((file) => {
    if (file.size <= max) return true;
    skipped.push(`${file.path}: ${file.size} bytes, more than the ${max} a note may have`);
    return false;
  });
  const built: SnapshotBuilt = { documents: 0, chunks: 0, skipped };
  for (const batch of batches(readable)) {
    const { paths, rows, documents } = await batchRows(source, batch, committedAt, skipped);
    if (rows.length > 0) await write(paths, rows);
    built.documents += documents;
    built.chunks += rows.length;
  }
  return built;
}

/** `files` in consecutive groups of at most BATCH_NOTES notes and (past the first) BATCH_BYTES. */
function* batches(files: readonly TreeFile[]): Generator<TreeFile[]> {
  let batch: TreeFile[] = [];
  let bytes = 0;
  for (const file of files) {
    if (batch.length > 0 && (batch.length >= BATCH_NOTES || bytes + file.size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(file);
    bytes += file.size;
  }
  if (batch.length > 0) yield batch;
}

/** One batch of notes as rows with their vectors; what cannot be read is added to `skipped`. */
async function batchRows(
  source: SnapshotSource,
  files: TreeFile[],
  committedAt: string,
  skipped: string[],
): Promise<{ paths: string[]; rows: ChunkRow[]; documents: number }> {
  const contents = await readBlobs(
    source.root,
    files.map((file) => file.blob),
    PARSE_LIMITS.maxFileBytes,
  );
  const mtimeMs = Date.parse(committedAt);
  const changed = files.flatMap((file) => {
    const content = contents.get(file.blob);
    if (!content) {
      skipped.push(`${file.path}: its content is not in the repository`);
      return [];
    }
    return [{ path: file.path, blob: file.blob, content, file: { stat: { size: content.length, mtimeMs } } }];
  });
  const prepared = await source.preparer.prepare(
    changed.map(({ path, content }) => ({ path, content: content.toString('utf8') })),
    source.embedInPreparer,
  );
  const { indexed, rows, vectors } = toRecords(changed, prepared);
  const missing = rows.flatMap((_, i) => (vectors[i] ? [] : [i]));
  if (missing.length > 0) {
    const computed = await source.embedder.embedDocuments(missing.map((i) => rows[i]!.search_text));
    missing.forEach((row, j) => (vectors[row] = computed[j]!));
  }
  return {
    paths: [...new Set(rows.map((row) => row.path))],
    rows: rows.map((row, i) => ({ ...row, vector: vectors[i]! })),
    documents: indexed.length,
  };
}
