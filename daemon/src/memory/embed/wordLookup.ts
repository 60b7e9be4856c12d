/**
 * Exact lookups of the word table's words and stems, kept as the UTF-8 bytes the table file holds:
 * an open-addressing hash table of entry numbers over those bytes, built at load without a
 * JavaScript string per word. A `Map` of the 100,000 words and their stems made 130,000 strings at
 * every start, about 150 ms of a restarted daemon's main thread (and its garbage collection)
 * before its first search, and 10-15 MB in each thread that embeds.
 */

/** FNV-1a's offset basis and prime (32-bit). */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class WordLookup {
  /** Entry number + 1 per slot (0: empty); a power of two at least twice the entries. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly bytes: Uint8Array;

  /**
   * @param bytes the UTF-8 text the keys are slices of
   * @param starts where each entry's key starts in `bytes`
   * @param ends where each entry's key ends (exclusive)
   * @param values each entry's value; a key given twice keeps its last value, as `Map.set` would
   */
  private constructor(
    bytes: Uint8Array,
    private readonly starts: Int32Array,
    private readonly ends: Int32Array,
    private readonly values: Int32Array,
  ) {
    // A plain view: element reads of a Buffer (a subclass) are slower in the lookups' loops.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    let size = 1;
    while (size < starts.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let entry = 0; entry < starts.length; entry++) this.insert(entry);
  }

  /** Lines of `bytes` (split on \n), each its own line number: the table's words by rank. */
  static ofLines(bytes: Uint8Array): WordLookup {
    const { starts, ends } = lines(bytes);
    const ranks = new Int32Array(starts.length);
    for (let i = 0; i < ranks.length; i++) ranks[i] = i;
    return new WordLookup(bytes, starts, ends, ranks);
  }

  /** Lines `key\tnumber` of `bytes` (split on \n): the table's stems and their ranks. */
  static ofTabbedLines(bytes: Uint8Array, source: string): WordLookup {
    const all = lines(bytes);
    const keep: number[] = [];
    const values: number[] = [];
    const keyEnds: number[] = [];
    for (let line = 0; line < all.starts.length; line++) {
      const start = all.starts[line]!;
      const end = all.ends[line]!;
      let tab = start;
      while (tab < end && bytes[tab] !== 9) tab++;
      if (tab === start || tab === end) continue;
      let value = 0;
      for (let k = tab + 1; k < end; k++) {
        const digit = bytes[k]! - 48;
        if (digit < 0 || digit > 9) throw new Error(`${source}: a stem's rank is not a number`);
        value = value * 10 + digit;
      }
      keep.push(start);
      keyEnds.push(tab);
      values.push(value);
    }
    return new WordLookup(bytes, Int32Array.from(keep), Int32Array.from(keyEnds), Int32Array.from(values));
  }

  get size(): number {
    return this.starts.length;
  }

  /** The value of `key`, or undefined. */
  get(key: string): number | undefined {
    let hash = FNV_OFFSET;
    for (let k = 0; k < key.length; k++) {
      const code = key.charCodeAt(k);
      // The bytes are UTF-8: a key outside ASCII is compared as its own UTF-8 bytes.
      if (code > 0x7f) return this.getBytes(Buffer.from(key, 'utf8'));
      hash = Math.imul(hash ^ code, FNV_PRIME);
    }
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return undefined;
      const start = this.starts[entry]!;
      if (this.ends[entry]! - start !== key.length) continue;
      let k = 0;
      while (k < key.length && this.bytes[start + k] === key.charCodeAt(k)) k++;
      if (k === key.length) return this.values[entry];
    }
  }

  /** Every entry as [key, value], in the order of `bytes` (keys given twice: each time). */
  entries(): [string, number][] {
    const decoder = new TextDecoder();
    return Array.from(this.starts, (start, entry) => [
      decoder.decode(this.bytes.subarray(start, this.ends[entry])),
      this.values[entry]!,
    ]);
  }

  private getBytes(key: Uint8Array): number | undefined {
    const entry = this.find(key, 0, key.length);
    return entry < 0 ? undefined : this.values[entry];
  }

  private insert(entry: number): void {
    const start = this.starts[entry]!;
    const end = this.ends[entry]!;
    const found = this.find(this.bytes, start, end);
    if (found >= 0) {
      this.values[found] = this.values[entry]!;
      return;
    }
    for (let slot = hashBytes(this.bytes, start, end) & this.mask; ; slot = (slot + 1) & this.mask) {
      if (this.slots[slot] === 0) {
        this.slots[slot] = entry + 1;
        return;
      }
    }
  }

  /** The entry whose key is `key[start, end)`, or -1. */
  private find(key: Uint8Array, start: number, end: number): number {
    const length = end - start;
    for (let slot = hashBytes(key, start, end) & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return -1;
      const at = this.starts[entry]!;
      if (this.ends[entry]! - at !== length) continue;
      let k = 0;
      while (k < length && this.bytes[at + k] === key[start + k]) k++;
      if (k === length) return entry;
    }
  }
}

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let k = start; k < end; k++) hash = Math.imul(hash ^ bytes[k]!, FNV_PRIME);
  return hash;
}

/** Where each \n-separated line of `bytes` starts and ends (a loop: Buffer's indexOf is a native call each time). */
function lines(bytes: Uint8Array): { starts: Int32Array; ends: Int32Array } {
  let count = 1;
  for (let at = 0; at < bytes.length; at++) if (bytes[at] === 10) count++;
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  let line = 0;
  for (let at = 0; at < bytes.length; at++) {
    if (bytes[at] !== 10) continue;
    ends[line] = at;
    starts[++line] = at + 1;
  }
  ends[line] = bytes.length;
  return { starts, ends };
}
