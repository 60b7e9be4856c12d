/**
 * The benchmark's query set, seeded: what someone searching their company's notes types. Most are
 * 2-6 words taken from one note (so they have a right answer), some start with a company or a
 * person, and about a third carry a filter (type, folder, tags, date range). Written as JSON Lines
 * in the format of `keel search --batch`, so a run can be replayed by hand.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SearchFilter } from '@keel/schemas';
import type { Manifest, NoteEntry } from './generate';
import { Random } from './random';
import { buildVocabulary, type Vocabulary } from './vocabulary';

export interface BenchQuery {
  id: number;
  query: string;
  k: number;
  filter?: SearchFilter;
}

export async function buildQueries(
  workspace: string,
  manifest: Manifest,
  count: number,
  k = 10,
): Promise<BenchQuery[]> {
  const random = new Random(manifest.seed).fork('queries');
  const vocabulary = buildVocabulary(new Random(manifest.seed).fork('vocabulary'));
  const queries: BenchQuery[] = [];
  for (let id = 1; id <= count; id++) {
    const entry = random.pick(manifest.entries);
    const body = bodyOf(await readFile(join(workspace, entry.path), 'utf8'));
    const words = contentWords(body, vocabulary);
    const query = queryText(random, vocabulary, words);
    const filter = random.chance(0.33) ? filterFor(random, entry) : undefined;
    queries.push({ id, query, k, ...(filter ? { filter } : {}) });
  }
  return queries;
}

function queryText(random: Random, vocabulary: Vocabulary, words: string[]): string {
  const roll = random.next();
  const run = (length: number): string[] => {
    if (words.length <= length) return words;
    const start = random.int(0, words.length - length);
    return words.slice(start, start + length);
  };
  if (roll < 0.1) return `${random.pick(vocabulary.companies)} ${run(random.int(1, 2)).join(' ')}`;
  if (roll < 0.18) return `${random.pick(vocabulary.people)} ${run(random.int(1, 2)).join(' ')}`;
  // Words near each other in the note, as a person recalls a phrase, or scattered keywords.
  const picked = random.chance(0.5) ? run(random.int(2, 6)) : random.sample(words, random.int(2, 6));
  return picked.length > 0 ? picked.join(' ') : random.pick(vocabulary.queryWords);
}

function filterFor(random: Random, entry: NoteEntry): SearchFilter {
  const roll = random.next();
  if (roll < 0.35) return { type: entry.type };
  if (roll < 0.6) return { pathPrefix: entry.path.slice(0, entry.path.lastIndexOf('/') + 1) };
  if (roll < 0.8 && entry.tags.length > 0) return { tags: [random.pick(entry.tags)] };
  const year = entry.date.slice(0, 4);
  return { type: entry.type, dateFrom: `${year}-01-01`, dateTo: `${year}-12-31` };
}

function bodyOf(content: string): string {
  const end = content.indexOf('\n---\n', 4);
  return end >= 0 ? content.slice(end + 5) : content;
}

/** The note's words a person would search for: no function words, numbers or Markdown. */
function contentWords(body: string, vocabulary: Vocabulary): string[] {
  const known = new Set(vocabulary.words);
  return (body.toLowerCase().match(/[a-z]{3,}/g) ?? []).filter(
    (w) => known.has(w) && !vocabulary.functionWords.has(w),
  );
}

export function toJsonLines(queries: BenchQuery[]): string {
  return queries.map((q) => JSON.stringify(q)).join('\n') + '\n';
}
