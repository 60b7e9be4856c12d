/**
 * The default embedder: feature hashing of words, word pairs and character trigrams into a
 * fixed-size vector. No model, no download, no network; deterministic and fast.
 * (Provisional: the retrieval evaluation decides its final form.)
 */
import type { Embedder } from './embedder';

const DIMENSIONS = 256;

export function createLocalEmbedder(): Promise<Embedder> {
  return Promise.resolve<Embedder>({
    id: `local-hash-v0/${DIMENSIONS}`,
    dimensions: DIMENSIONS,
    embedDocuments: (texts) => Promise.resolve(texts.map(embed)),
    embedQuery: (text) => Promise.resolve(embed(text)),
  });
}

function embed(text: string): Float32Array {
  const vector = new Float32Array(DIMENSIONS);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    add(vector, word, 1);
    if (i > 0) add(vector, `${words[i - 1]!} ${word}`, 0.5);
    const padded = `#${word}#`;
    for (let j = 0; j + 3 <= padded.length; j++) add(vector, padded.slice(j, j + 3), 0.25);
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < DIMENSIONS; i++) vector[i]! /= norm;
  return vector;
}

function add(vector: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature);
  vector[h % DIMENSIONS]! += h & 0x80000000 ? -weight : weight;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
