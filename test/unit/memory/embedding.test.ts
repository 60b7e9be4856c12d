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
  }, 60_000); // the first use reads the word table: seconds on a loaded 2-core machine

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
    // "renegotiations" is not in the table, nor is its stem "renegoti": only the stem table knows it.
    expect(table.words.get('renegoti')).toBeUndefined();
    expect(table.stems.get('renegoti')).toBeDefined();
    const words = table.words.entries().map(([word]) => word);
    expect(table.stems.entries().sort()).toEqual([...stemRanks(words)].sort());
  });

  it('looks every word of the table up to its rank, and nothing else', () => {
    const table = readWordTable(assetPath());
    const words = table.words.entries();
    expect(words).toHaveLength(100_000);
    for (const [word, rank] of words) expect(table.words.get(word)).toBe(rank);
    expect(words.slice(0, 3).map(([word]) => word)).toEqual(['the', ',', '.']);
    // Words outside ASCII are kept as UTF-8: found by their text, not by look-alike bytes.
    const accented = words.find(([word]) => /[^ -~]/.test(word));
    expect(accented).toBeDefined();
    expect(table.words.get(accented![0])).toBe(accented![1]);
    for (const missing of ['', 'zzyzxq', 'the ', 'thxqz', 'thee\u0301', '\u00e9t\u00e9x'])
      expect(table.words.get(missing)).toBeUndefined();
  });

  it('embeds a text alike however many texts came before it', async () => {
    const texts = ['Caroline adopted two kittens', 'renegotiations zzyzxq', 'Renewal due in March.'];
    const fresh = await loadLocalEmbedder().embedQuery(texts[1]!);
    const used = loadLocalEmbedder();
    await used.embedDocuments(texts);
    expect([...(await used.embedQuery(texts[1]!))]).toEqual([...fresh]);
    // A word known only through its stem counts: the vector is not that of the unknown word alone.
    expect(Math.max(...fresh.map(Math.abs))).toBeGreaterThan(0);
  });

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
