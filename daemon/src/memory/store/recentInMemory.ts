/**
 * The small table's chunks (recentChunks.ts) held in memory too, and searched there: a query of a
 * LanceDB table has a fixed cost of 10-20 ms however few rows it holds (measured on a table of
 * 150 rows, compacted or not, beside 8-10 ms for the whole 20,000-chunk main table), so asking
 * the small table as well tripled each search while saves went on. A few thousand chunks are
 * scanned here in well under a millisecond. The LanceDB table stays the durable copy (read back
 * on open); this is its mirror, changed just before the table is (recentChunks.ts) and put back
 * should the table refuse the write.
 *
 * Full-text scores are BM25 over these chunks' own statistics, with the analysis LanceDB's index
 * is configured with (lower case, ASCII folding, English stop words, Porter2 stems): as roughly
 * comparable to the main table's scores as the small table's own index was.
 */
import stem from 'wink-porter2-stemmer';
import { tokenize } from '../embed/local';
import type { ChunkRow } from './chunkIndex';

/** BM25's usual constants (LanceDB's too). */
const K1 = 1.2;
const B = 0.75;

/** English stop words (the common core of Tantivy's list, which LanceDB's index uses). */
const STOP_WORDS = new Set(
  (
    'a an and are as at be but by for if in into is it no not of on or such that the their then there ' +
    'these they this to was will with'
  ).split(' '),
);

interface Held {
  row: ChunkRow & { seq: number };
  terms: Map<string, number>;
  length: number;
}

export class RecentInMemory {
  private readonly byId = new Map<string, Held>();

  get size(): number {
    return this.byId.size;
  }

  /**
   * Adds the newest rows of their paths; older rows of those paths go (`paths` of this write).
   * Returns what undoes it (the older rows back), for a write the table then refused.
   */
  put(paths: Iterable<string>, rows: (ChunkRow & { seq: number })[]): () => void {
    const written = new Set(paths);
    const seq = rows[0]?.seq ?? Infinity;
    const replaced: Held[] = [];
    for (const [id, held] of this.byId) {
      if (written.has(held.row.path) && held.row.seq < seq) {
        replaced.push(held);
        this.byId.delete(id);
      }
    }
    for (const row of rows) {
      const words = analyze(row.search_text);
      const terms = new Map<string, number>();
      for (const word of words) terms.set(word, (terms.get(word) ?? 0) + 1);
      this.byId.set(row.id, { row, terms, length: words.length });
    }
    return () => {
      for (const row of rows) if (this.byId.get(row.id)?.row === row) this.byId.delete(row.id);
      for (const held of replaced) if (!this.byId.has(held.row.id)) this.byId.set(held.row.id, held);
    };
  }

  /** Drops rows written up to `upTo` (folded into the main table). */
  forget(upTo: number): void {
    for (const [id, held] of this.byId) if (held.row.seq <= upTo) this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }

  /** The nearest rows by dot product, shaped as LanceDB answers (`_distance` = 1 - dot). */
  vectorSearch(vector: Float32Array, limit: number, columns: string[]): Record<string, unknown>[] {
    const scored: { held: Held; dot: number }[] = [];
    for (const held of this.byId.values()) {
      const other = held.row.vector;
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i]! * other[i]!;
      scored.push({ held, dot });
    }
    scored.sort((a, b) => b.dot - a.dot);
    return scored.slice(0, limit).map(({ held, dot }) => ({
      ...pick(held.row, columns),
      seq: held.row.seq,
      _distance: 1 - dot,
    }));
  }

  /** The best rows by BM25 for any of the query's words, shaped as LanceDB answers (`_score`). */
  textSearch(query: string, limit: number, columns: string[]): Record<string, unknown>[] {
    const words = [...new Set(analyze(query))];
    if (words.length === 0 || this.byId.size === 0) return [];
    const all = [...this.byId.values()];
    const averageLength = all.reduce((sum, h) => sum + h.length, 0) / all.length || 1;
    const idf = new Map<string, number>();
    for (const word of words) {
      const having = all.filter((h) => h.terms.has(word)).length;
      idf.set(word, Math.log(1 + (all.length - having + 0.5) / (having + 0.5)));
    }
    const scored: { held: Held; score: number }[] = [];
    for (const held of all) {
      let score = 0;
      for (const word of words) {
        const tf = held.terms.get(word);
        if (!tf) continue;
        score += (idf.get(word)! * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * held.length) / averageLength));
      }
      if (score > 0) scored.push({ held, score });
    }
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, limit).map(({ held, score }) => ({
      ...pick(held.row, columns),
      seq: held.row.seq,
      _score: score,
    }));
  }
}

/**
 * Word -> its term (null: a stop word), for the words seen lately. Stemming each word was most of
 * a save's analysis here (1.3-1.4 ms for a note of 7 chunks, on the daemon's thread, before the
 * note is searchable); most words of a note are frequent ones seen before.
 */
let terms = new Map<string, string | null>();
/** Words whose term is kept (about 2 MB): past this it starts over. */
const TERMS_KEPT = 20_000;

function analyze(text: string): string[] {
  const out: string[] = [];
  for (const word of tokenize(text)) {
    let term = terms.get(word);
    if (term === undefined) {
      term = STOP_WORDS.has(word) ? null : stem(word);
      // A longer word can be V8's slice of the whole text, which a key would keep alive.
      if (word.length < 13) {
        if (terms.size >= TERMS_KEPT) terms = new Map();
        terms.set(word, term);
      }
    }
    if (term !== null) out.push(term);
  }
  return out;
}

function pick(row: ChunkRow, columns: string[]): Record<string, unknown> {
  const record = row as unknown as Record<string, unknown>;
  return Object.fromEntries(columns.map((column) => [column, record[column]]));
}
