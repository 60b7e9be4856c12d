/**
 * What the index sees of a chunk, and what full-text search is asked. A note's frontmatter is
 * memory too: every scalar field becomes a `key: value` line after the heading and the text, with
 * dates written as words ("8 May 2023"), because people ask with words. The same text feeds the
 * full-text index and the embedder. Measured on LoCoMo (test/eval): about +0.11 recall@10.
 */
import type { Chunk } from './parse/markdown';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const MAX_VALUE_CHARS = 1_000;

export function searchTextOf(frontmatter: Record<string, unknown> | null, chunk: Chunk): string {
  const parts = chunk.heading ? [chunk.heading, chunk.text] : [chunk.text];
  for (const [key, value] of Object.entries(frontmatter ?? {})) {
    const text = Array.isArray(value)
      ? value
          .map(scalarText)
          .filter((v): v is string => v !== null)
          .join(', ')
      : scalarText(value);
    if (text) parts.push(`${key}: ${text.slice(0, MAX_VALUE_CHARS)}`);
  }
  return parts.join('\n');
}

/** "2023-05-08" (or a YAML date) → "8 May 2023"; anything else → null. */
export function dateInWords(value: unknown): string | null {
  if (value instanceof Date && !Number.isNaN(value.getTime())) {
    return `${value.getUTCDate()} ${MONTHS[value.getUTCMonth()]!} ${value.getUTCFullYear()}`;
  }
  if (typeof value !== 'string') return null;
  const match = ISO_DATE.exec(value.trim());
  const month = match ? Number(match[2]) : 0;
  if (!match || month < 1 || month > 12) return null;
  return `${Number(match[3])} ${MONTHS[month - 1]!} ${match[1]!}`;
}

function scalarText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = dateInWords(value);
  if (date) return date;
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** Interrogatives and auxiliaries: they make BM25 prefer other questions over the answer. */
const QUESTION_WORDS = new Set(
  (
    'what when where who whom whose which why how do does did is are was were am be been being has have had ' +
    'can could will would should shall may might must'
  ).split(' '),
);

/**
 * The full-text query for what the operator typed: question words are dropped when lowercase or
 * first ("May 2023" and "Will Smith" survive), punctuation is dropped (so the query can never turn
 * into LanceDB query syntax). Measured on LoCoMo: about +0.04 recall@10.
 */
export function fullTextQuery(query: string): string {
  const words = [...query.matchAll(/[\p{L}\p{N}]+(?:['\u2019][\p{L}]+)*/gu)].map((m) => m[0]);
  const kept = words.filter(
    (w, i) => !(QUESTION_WORDS.has(w.toLowerCase()) && (i === 0 || w === w.toLowerCase())),
  );
  return (kept.length > 0 ? kept : words).join(' ');
}
