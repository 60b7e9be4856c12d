/** The default embedder and the texts behind search: deterministic, related words close, questions cleaned. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assetPath, createLocalEmbedder, loadLocalEmbedder } from '../../../daemon/src/memory/embed/local';
import { readWordTable, stemRanks } from '../../../daemon/src/memory/embed/staticAsset';
import { dateInWords, fullTextQuery, searchTextOf } from '../../../daemon/src/memory/searchText';

const cosine = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

describe('the default embedder', () => {
  it('makes deterministic unit vectors of its declared size, and names its settings', async () => {
    const embedder = await createLocalEmbedder();
    const [a, b] = await embedder.embedDocuments(['Renewal due in March.', 'Renewal due in March.']);
    expect(a).toHaveLength(embedder.dimensions);
    expect(embedder.dimensions).toBe(100);
    expect([...a!]).toEqual([...b!]);
    expect(cosine(a!, a!)).toBeCloseTo(1, 5);
    expect(embedder.id).toMatch(/^keel-static-v1:.*:[0-9a-f]{8}$/);
  }, 60_000); // the first use reads and builds the word table: over 5 s on a loaded 2-core machine

  it('puts related words closer than unrelated ones, without sharing a word', async () => {
    const embedder = await createLocalEmbedder();
    const [pets, cat, invoice] = await embedder.embedDocuments([
      'Does she have any pets?',
      'Her cat sleeps on the sofa.',
      'The invoice is overdue by thirty days.',
    ]);
    expect(cosine(pets!, cat!)).toBeGreaterThan(cosine(pets!, invoice!) + 0.1);
  });

  it('ships the stem table it would compute, so a word is read through its stem without stemming at start', () => {
    const table = readWordTable(assetPath());
    expect(table.stemRank).not.toBeNull();
    // "renegotiations" is not in the table, nor is its stem "renegoti": only the stem table knows it.
    expect(table.stemRank!.get('renegoti')).toBeDefined();
    expect([...table.stemRank!].sort()).toEqual([...stemRanks(table.words)].sort());
  });

  it('warms its word lookups in slices, leaving the thread free, to the same vectors as at first use', async () => {
    const texts = [
      'Caroline adopted two kittens',
      'reorganisational runnings quickly',
      'Renewal due in March.',
    ];
    const atFirstUse = await loadLocalEmbedder().embedDocuments(texts);
    const warmed = loadLocalEmbedder();
    let turns = 0;
    const other = setInterval(() => turns++, 0);
    await warmed.warm!();
    clearInterval(other);
    // Timers ran between the slices: a warm-up that held the thread would leave none.
    expect(turns).toBeGreaterThan(2);
    expect((await warmed.embedDocuments(texts)).map((v) => [...v])).toEqual(atFirstUse.map((v) => [...v]));
  }, 60_000); // two word tables read and built: 2-4 s each on a loaded 2-core machine

  it('answers a first short query, before its lookups are built, with the vector it gives once they are', async () => {
    const queries = [
      'Caroline adopted two kittens', // frequent and rarer words
      'renegotiations zzyzxq', // a word known only through its stem, and an unknown one
      'what did Anna Silva say about the bandwidth renewal for Halator in March of last year', // long
    ];
    const built = loadLocalEmbedder();
    await built.warm!();
    for (const query of queries) {
      // A fresh embedder each time: its first query is answered by scanning the word list.
      const first = await loadLocalEmbedder().embedQuery(query);
      expect([...first]).toEqual([...(await built.embedQuery(query))]);
    }
  }, 60_000); // four word tables read: 1-3 s each on a loaded 2-core machine

  it('names a word table cut short and how to rebuild it, rather than reading past its end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-word-table-'));
    try {
      const cut = join(dir, 'cut.bin');
      await writeFile(cut, (await readFile(assetPath())).subarray(0, 1_000_000));
      expect(() => readWordTable(cut)).toThrow(/cut\.bin is cut short.*npm run build/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives an empty text a zero vector rather than failing', async () => {
    const embedder = await createLocalEmbedder();
    expect(Math.max(...(await embedder.embedQuery('the of and')))).toBe(0);
  });
});

describe('what the index sees', () => {
  it('adds every scalar frontmatter field, dates in words, after the heading and text', () => {
    const text = searchTextOf(
      { speaker: 'Caroline', date: '2023-05-08', tags: ['lgbtq', 'support'], nested: { a: 1 } },
      { startLine: 1, endLine: 2, heading: 'Session 1', text: 'I went to a support group yesterday.' },
    );
    expect(text).toBe(
      'Session 1\nI went to a support group yesterday.\nspeaker: Caroline\ndate: 8 May 2023\ntags: lgbtq, support',
    );
    expect(dateInWords('2026-13-01')).toBeNull();
  });

  it('drops question words from full-text queries, but not names or months', () => {
    expect(fullTextQuery('When did Caroline go to the LGBTQ support group?')).toBe(
      'Caroline go to the LGBTQ support group',
    );
    expect(fullTextQuery('What did Will say in May?')).toBe('Will say in May');
    expect(fullTextQuery('"renewal"')).toBe('renewal');
    expect(fullTextQuery('what?')).toBe('what');
  });
});
