/**
 * A past commit's notes turned into index rows by the live pipeline: the same parser and chunker
 * (on the worker thread), the same searchable text, the same embedder. Only the source differs:
 * blobs from git instead of files on disk.
 */
import type { Embedder } from '../embed/embedder';
import { isIndexable } from '../files';
import { toRecords } from '../indexBatch';
import { PARSE_LIMITS } from '../parse/index';
import type { FilePreparer } from '../prepare';
import type { ChunkRow } from '../store/chunkIndex';
import { listTree, readBlobs } from '../../workspace/gitHistory';

export interface SnapshotSource {
  root: string;
  embedder: Embedder;
  preparer: FilePreparer;
  /** Whether the preparer computes the vectors (the local embedder), as for the live index. */
  embedInPreparer: boolean;
}

export interface SnapshotRows {
  rows: ChunkRow[];
  documents: number;
  skipped: string[];
}

/**
 * Every indexable note of `commit` as rows. A note's date without frontmatter is the commit's day
 * (the live index takes the file's time, which history does not keep).
 */
export async function snapshotRows(
  source: SnapshotSource,
  commit: string,
  committedAt: string,
): Promise<SnapshotRows> {
  const listing = await listTree(source.root, commit, isIndexable);
  const skipped = [...listing.skipped];
  const max = PARSE_LIMITS.maxFileBytes;
  const readable = listing.files.filter((file) => {
    if (file.size <= max) return true;
    skipped.push(`${file.path}: ${file.size} bytes, more than the ${max} a note may have`);
    return false;
  });
  const contents = await readBlobs(
    source.root,
    readable.map((file) => file.blob),
    max,
  );
  const mtimeMs = Date.parse(committedAt);
  const changed = readable.flatMap((file) => {
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
    rows: rows.map((row, i) => ({ ...row, vector: vectors[i]! })),
    documents: indexed.length,
    skipped,
  };
}
