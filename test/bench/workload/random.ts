/**
 * A tiny seeded PRNG (mulberry32) and the draws the generator needs. Math.random cannot be seeded,
 * and the benchmark's workload must be byte-identical for a given seed so runs are comparable.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** `count` distinct items (or all of them when there are fewer). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) {
      out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0]!);
    }
    return out;
  }

  /** A child generator, so adding draws in one part of the workload does not shift another. */
  fork(label: string): Random {
    let hash = this.state ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    return new Random(hash >>> 0);
  }
}

/**
 * Draws ranks 0..n-1 with probability proportional to 1 / (rank + 1)^exponent: word frequencies in
 * real text follow this law, and BM25's behaviour (posting-list lengths, IDF) depends on it.
 */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(n: number, exponent = 1.05) {
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let rank = 0; rank < n; rank++) {
      total += 1 / Math.pow(rank + 1, exponent);
      this.cdf[rank] = total;
    }
    for (let rank = 0; rank < n; rank++) this.cdf[rank]! /= total;
  }

  draw(random: Random): number {
    const u = random.next();
    let low = 0;
    let high = this.cdf.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cdf[mid]! < u) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
