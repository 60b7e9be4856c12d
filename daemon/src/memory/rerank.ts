/**
 * The second retrieval stage: two priors from the workspace's structure and one from the words,
 * applied to the fused candidates. Measured on LoCoMo (test/eval), with the 256-d embedder of the time: hybrid recall@10 +0.04 (bootstrap 95% CI +0.027 to
 * +0.056); with the constants chosen on four conversations and scored on the fifth, 0.731.
 *  1. Folder prior (the cluster hypothesis): a note in the same folder as other strong matches is
 *     more likely relevant. Each candidate gains FOLDER_WEIGHT x (its folder's sum of its
 *     FOLDER_TOP_K best scores) / (the best folder's sum). A flat workspace is unaffected; folders
 *     assigned at random cost 0.002-0.013, hence the moderate weight.
 *  2. Mentions: a note whose short frontmatter value (a person, a customer, a tag, a date) appears
 *     in the query as whole words gains MENTION_BOOST. BM25 underweights such terms because they
 *     are frequent, yet the operator named them to narrow the answer.
 * Every weight from 0.1 to 0.5 for either gives 0.709-0.727: not a knife-edge optimum.
 *  3. Term coverage (see `termCoverage`): a candidate holding more of the query's distinct content
 *     words, the rarer among the candidates the better, gains up to `coverageWeight`.
 */
import stem from 'wink-porter2-stemmer';
import { foldText, MAX_WORD_CHARS, STOP_WORDS, tokenize } from './embed/local';
import { dateInWords } from './searchText';

export const STRUCTURE = {
  folderWeight: 0.2,
  folderTopK: 3,
  mentionBoost: 0.2,
  coverageWeight: 0.3,
  maxMentionWords: 4,
  /** Values kept per note: a person, a customer, a few tags and dates are far fewer. */
  maxMentions: 16,
} as const;

export interface Candidate {
  id: string;
  /** The fused score, 0..1 per list. */
  score: number;
  path: string;
  /** The note's matchable frontmatter values (see `mentionsOf`). */
  mentions: string[];
  /** The chunk's heading and text, for term coverage. */
  text: string;
}

const MONTHS = 'january|february|march|april|may|june|july|august|september|october|november|december';
const MONTH_DAY_YEAR = new RegExp(`\\b(${MONTHS})\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, 'g');
const DAY_MONTH_YEAR = new RegExp(
  `\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?(${MONTHS}),?\\s+(\\d{4})\\b`,
  'g',
);
const ISO_DAY = /\b(\d{4})-(\d{2})-(\d{2})\b/g;

/** Lowercase words separated by single spaces, dates as "8 may 2023": for whole-word matching. */
export function normalizeForMatch(text: string): string {
  let t = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');
  t = t.replace(
    ISO_DAY,
    (match, y: string, m: string, d: string) => dateInWords(`${y}-${m}-${d}`)?.toLowerCase() ?? match,
  );
  t = t
    .replace(MONTH_DAY_YEAR, (_, m: string, d: string, y: string) => `${Number(d)} ${m} ${y}`)
    .replace(DAY_MONTH_YEAR, (_, d: string, m: string, y: string) => `${Number(d)} ${m} ${y}`);
  return t.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/**
 * A note's short frontmatter values worth matching against queries: 1-4 words, not just numbers,
 * not only stop words, at most STRUCTURE.maxMentions of them. A note's frontmatter is untrusted (a
 * saved mail, a pasted page): `tags: [what, the, how, ...]` would otherwise lift it for nearly
 * every question, and a thousand values for a thousand topics.
 */
export function mentionsOf(frontmatter: Record<string, unknown> | null): string[] {
  const out = new Set<string>();
  const add = (value: unknown): void => {
    const text = dateInWords(value) ?? (typeof value === 'string' ? value : null);
    if (!text) return;
    const normalized = normalizeForMatch(text);
    const words = normalized.split(' ');
    if (!normalized || words.length > STRUCTURE.maxMentionWords || /^[\d ]+$/.test(normalized)) return;
    if (words.every((word) => STOP_WORDS.has(word)) || out.size >= STRUCTURE.maxMentions) return;
    out.add(normalized);
  };
  for (const value of Object.values(frontmatter ?? {})) {
    if (Array.isArray(value)) value.forEach(add);
    else add(value);
  }
  return [...out];
}

/** Re-scores the fused candidates with the priors; best first. */
export function structureRerank<T extends Candidate>(
  query: string,
  candidates: T[],
  weights: { folderWeight: number; mentionBoost: number; coverageWeight: number } = STRUCTURE,
): T[] {
  if (candidates.length === 0) return candidates;
  const folderOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf('/')));
  const byFolder = new Map<string, number[]>();
  for (const c of candidates)
    byFolder.set(folderOf(c.path), [...(byFolder.get(folderOf(c.path)) ?? []), c.score]);
  const folderScore = new Map<string, number>();
  for (const [folder, scores] of byFolder) {
    const best = scores.sort((a, b) => b - a).slice(0, STRUCTURE.folderTopK);
    folderScore.set(
      folder,
      best.reduce((sum, s) => sum + s, 0),
    );
  }
  const bestFolder = Math.max(...folderScore.values());
  const asked = ` ${normalizeForMatch(query)} `;
  const coverage =
    weights.coverageWeight > 0
      ? termCoverage(
          query,
          // The frontmatter values are part of what a note says, as they are of its indexed text.
          candidates.map((c) => [c.text, ...c.mentions].join('\n')),
        )
      : null;
  return candidates
    .map((c, i) => {
      let score = c.score;
      if (coverage) score += weights.coverageWeight * coverage[i]!;
      if (bestFolder > 0) score += (weights.folderWeight * folderScore.get(folderOf(c.path))!) / bestFolder;
      if (c.mentions.some((value) => asked.includes(` ${value} `))) score += weights.mentionBoost;
      return { ...c, score };
    })
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}

/**
 * Term coverage, Lucene's old coordination factor weighted by rarity: for each text, the share of
 * the query's distinct content words (stop words dropped, Porter2 stems) it contains, each word
 * weighted by log((n + 1) / (df + 0.5)) where df counts the n texts holding it. BM25 over short
 * notes lets one rare word, or a word repeated, outrank a note that holds what the question is
 * about; the weighting is local to the candidates, so a word every candidate holds (the speaker
 * the question names, which search already matched) tells them apart no more than it should.
 * Returns 0..1 per text (0 for all when the query has no content word).
 * On LoCoMo (test/eval) hybrid recall@10 +0.01 at weights 0.3-0.6, together with the sequence
 * prior's reach of two; alone about +0.002. A chunk holds at most 2,000 characters, so a note
 * stuffed with words covers few questions' rarer words, and only once search found it already.
 */
export function termCoverage(query: string, texts: string[]): number[] {
  const asked = new Set(
    tokenize(query)
      .filter((word) => !STOP_WORDS.has(word))
      .map(stemOf),
  );
  if (asked.size === 0) return texts.map(() => 0);
  const candidates = beginningWith(asked);
  const held = texts.map((text) => heldWords(text, asked, candidates));
  const weight = new Map(
    [...asked].map((word) => {
      const df = held.filter((words) => words.has(word)).length;
      return [word, Math.log((texts.length + 1) / (df + 0.5))];
    }),
  );
  const total = [...weight.values()].reduce((sum, w) => sum + w, 0);
  return held.map((words) => [...words].reduce((sum, word) => sum + weight.get(word)!, 0) / total);
}

/**
 * Which of the stems `asked` the text holds. Search reads up to 50 candidates of up to 2,000
 * characters, so not every word is stemmed: a word can only have one of the stems if it begins
 * with it (less a final "i", which Porter2 writes for "y": happy -> happi), and one regular
 * expression (`beginningWith`) finds those. Stemming every word took 2-3 ms a search over 50
 * chunks of 1,200 characters; this takes 0.5-0.7 ms (0.2 ms over 50 chat messages). Irregular
 * forms are missed (skies -> sky), as full-text search's own stemmer reads them differently too.
 */
function heldWords(text: string, asked: Set<string>, candidates: RegExp): Set<string> {
  const held = new Set<string>();
  for (const [word] of foldText(text).matchAll(candidates)) {
    const root = stemOf(word);
    if (asked.has(root)) held.add(root);
  }
  return held;
}

/** Words that begin with one of the stems (the stems are lowercase letters and digits). */
function beginningWith(asked: Set<string>): RegExp {
  const prefixes = [...asked].map((root) => (root.length > 1 ? root.replace(/i$/, '') : root));
  return new RegExp(`\\b(?:${prefixes.join('|')})[a-z0-9]*`, 'g');
}

/** Remembered stems: the same few thousand words come back in every search. */
const stems = new Map<string, string>();

/** The Porter2 stem of a word of letters (numbers and long words as they are). */
function stemOf(word: string): string {
  let root = stems.get(word);
  if (root === undefined) {
    root = word.length <= MAX_WORD_CHARS && /^[a-z]+$/.test(word) ? stem(word) : word;
    if (stems.size >= 50_000) stems.clear();
    stems.set(word, root);
  }
  return root;
}
