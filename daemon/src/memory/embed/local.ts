/**
 * The default embedder, "keel-static-v1": no model to run, no download, no network; deterministic;
 * about 20 µs per chunk on one core. A 100-d L2-normalised vector: the SIF-weighted mean (a = 1e-3,
 * Zipf prior from frequency rank) of the GloVe vectors (staticAsset.ts) of the non-stop words, a
 * word unknown to the table read through its Porter2 stem. It finds related words (pets ~ cat)
 * that BM25 cannot match; exact words are BM25's job. A 156-d hashed lexical part on top measured
 * +0.004 recall@10 on LoCoMo (test/eval) for 2.5x the vector bytes and ~60 MB more daemon RSS at
 * 100,000 chunks, so it was dropped. Changing any constant changes `id`, which rebuilds indexes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import stem from 'wink-porter2-stemmer';
import type { Embedder } from './embedder';
import {
  ASSET_FILE,
  parseWordTable,
  readWordTable,
  readWordTableFile,
  VOCABULARY,
  WORD_DIMENSIONS,
  type WordTable,
} from './staticAsset';
import type { WordLookup } from './wordLookup';

const SIF_A = 1e-3;
/** Harmonic number of GloVe 6B's 400,000-word vocabulary: the Zipf prior's normaliser. */
const ZIPF_H = Math.log(400_000) + 0.5772156649;

/** English stop words, interrogatives and auxiliaries: they carry no topic. */
export const STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both ' +
    'but by can could did do does doing down during each few for from further had has have having he her here hers ' +
    'herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on ' +
    'once only or other our ours ourselves out over own same she should so some such than that the their theirs them ' +
    'themselves then there these they this those through to too under until up very was we were what when where ' +
    'which while who whom why will with would you your yours yourself yourselves also ever get got gets let lets may ' +
    'might must shall us yes yeah oh hey hi im'
  ).split(' '),
);

let shared: Promise<Embedder> | null = null;
/** The word table file's bytes: read by this thread, or handed to it by the thread that started it. */
let tableFile: SharedArrayBuffer | null = null;

/** The default embedder; its word table is read once per process, on first use. */
export function createLocalEmbedder(): Promise<Embedder> {
  shared ??= Promise.resolve().then(() => {
    if (tableFile) return new StaticEmbedder(parseWordTable(tableFile, ASSET_FILE));
    const path = assetPath();
    tableFile = readWordTableFile(path);
    return new StaticEmbedder(parseWordTable(tableFile, path));
  });
  shared.catch(() => (shared = null));
  return shared;
}

/**
 * The word table's bytes this thread read for its embedder (to hand to the threads it starts), or
 * null when it has none: the daemon's worker then reads its own.
 */
export function sharedWordTable(): SharedArrayBuffer | null {
  return tableFile;
}

/** Makes this thread's embedder use `file`, the word table's bytes its parent read, not read its own. */
export function useSharedWordTable(file: SharedArrayBuffer): void {
  tableFile ??= file;
}

/** A new embedder over the word table at `path`, not shared (tests compare fresh ones). */
export function loadLocalEmbedder(path = assetPath()): Embedder {
  return new StaticEmbedder(readWordTable(path));
}

/** Where the word table is: next to the bundle (dist/), or KEEL_EMBEDDER_ASSET. */
export function assetPath(): string {
  const candidates = [
    process.env.KEEL_EMBEDDER_ASSET,
    join(__dirname, ASSET_FILE),
    join(__dirname, '..', '..', '..', 'dist', ASSET_FILE), // daemon/src/memory/embed → daemon/dist
  ].filter((path): path is string => typeof path === 'string');
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `The default embedder's word table (${ASSET_FILE}) is missing; run "npm run build" in the Keel repository.`,
    );
  }
  return found;
}

class StaticEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions = WORD_DIMENSIONS;
  private readonly words: WordLookup;
  private readonly stemRanks: WordLookup;
  /** SIF weight times int8 scale, per word. */
  private readonly weight = new Float32Array(VOCABULARY);
  private readonly values: Int8Array;
  /**
   * Word -> its rank in the table (-1: a stop word, or no word the table knows even as a stem), for
   * the words seen lately. The table's own lookup hashes and compares the word's bytes in a table
   * of megabytes; most words of a note are frequent ones seen before (a cold index of 100,000
   * chunks: 3.3 s of embedding against 2.4 s with this).
   */
  private ranks = new Map<string, number>();

  constructor(table: WordTable) {
    this.id = `keel-static-v1:glove6B100d-top100k-abtt3-sif${SIF_A}-porter2:${table.checksum}`;
    this.values = table.values;
    this.words = table.words;
    this.stemRanks = table.stems;
    for (let i = 0; i < VOCABULARY; i++) {
      const prior = 1 / ((i + 1) * ZIPF_H);
      this.weight[i] = (SIF_A / (SIF_A + prior)) * table.scales[i]!;
    }
  }

  embedDocuments(texts: string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((text) => this.embed(text)));
  }

  embedQuery(text: string): Promise<Float32Array> {
    return Promise.resolve(this.embed(text));
  }

  private embed(text: string): Float32Array {
    const vector = new Float32Array(this.dimensions);
    const values = this.values;
    for (const word of tokenize(text)) {
      const i = this.rankOf(word);
      if (i < 0) continue;
      const w = this.weight[i]!;
      const offset = i * WORD_DIMENSIONS;
      for (let j = 0; j < WORD_DIMENSIONS; j++) vector[j]! += w * values[offset + j]!;
    }
    const length = norm(vector);
    if (length > 0) for (let j = 0; j < vector.length; j++) vector[j]! /= length;
    return vector;
  }

  /** The word's rank in the table, read through its stem when the word itself is not there; -1: none. */
  private rankOf(word: string): number {
    let rank = this.ranks.get(word);
    if (rank !== undefined) return rank;
    if (STOP_WORDS.has(word)) rank = -1;
    else {
      rank = this.words.get(word);
      if (rank === undefined) {
        const root = word.length <= MAX_WORD_CHARS && /^[a-z]+$/.test(word) ? stem(word) : word;
        rank = this.words.get(root) ?? this.stemRanks.get(root) ?? -1;
      }
    }
    // A word of 13 characters or more can be V8's slice of the note's whole text, which a key
    // would keep alive; such words are rare enough to look up each time.
    if (word.length < 13) {
      if (this.ranks.size >= RANKS_KEPT) this.ranks = new Map();
      this.ranks.set(word, rank);
    }
    return rank;
  }
}

/** Words whose rank an embedder keeps (about 2 MB): past this it starts over. */
const RANKS_KEPT = 20_000;

/**
 * Longer runs of letters are no word any table knows (GloVe's longest is under 40), and the Porter2
 * stemmer takes time quadratic in a word's length (16,000 characters: 2 s; a million: hours).
 */
export const MAX_WORD_CHARS = 64;

/**
 * Lowercase words with diacritics folded; clitics dropped ('s 'm 'd 'll 're 've), n't read as not.
 * Words longer than MAX_WORD_CHARS are skipped.
 */
export function tokenize(text: string): string[] {
  const lower = foldText(text);
  const out: string[] = [];
  for (const match of lower.matchAll(/[a-z0-9]+(?:'[a-z]+)*/g)) {
    let word = match[0];
    if (word.length > MAX_WORD_CHARS) continue;
    const apostrophe = word.indexOf("'");
    if (apostrophe >= 0) {
      const head = word.slice(0, apostrophe);
      const tail = word.slice(apostrophe + 1);
      if (tail === 't' && head.endsWith('n')) {
        out.push(head.slice(0, -1), 'not');
        continue;
      }
      word = ['s', 'm', 'd', 'll', 're', 've'].includes(tail) ? head : word.replace(/'/g, '');
    }
    if (word) out.push(word);
  }
  return out;
}

/** Lowercase, diacritics folded (é → e), curly apostrophes straight. */
export function foldText(text: string): string {
  const lower = text.toLowerCase();
  // Only text with non-ASCII characters needs folding.
  if (!/[^ -~\t\n\r]/.test(lower)) return lower;
  return lower
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019`]/g, "'");
}

function norm(vector: Float32Array): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}
