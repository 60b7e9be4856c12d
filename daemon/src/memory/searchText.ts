/**
 * What the index sees of a chunk. A note's frontmatter is searchable ("frontmatter is memory
 * too"): its title, people and other scalar fields go in front of the chunk's heading and text, for
 * both the full-text index and the vector.
 */
import type { Chunk } from './parse/markdown';
import type { NoteMeta } from './parse/index';

/** Keys whose values are identifiers or bookkeeping rather than words worth searching. */
const UNSEARCHED_FIELDS = new Set(['review-by', 'created', 'updated', 'id', 'uid']);

export function searchTextOf(meta: NoteMeta, chunk: Chunk): string {
  const fields = Object.entries(meta.fields)
    .filter(([key]) => !UNSEARCHED_FIELDS.has(key))
    .map(([key, value]) => `${key}: ${value}`);
  return [...fields, chunk.heading, chunk.text].filter((part) => part.length > 0).join('\n');
}
