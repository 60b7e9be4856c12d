/**
 * Freshness filters against the real LanceDB index: each of since, until, type, tags (any/all),
 * path (prefix and glob) and excludeStale narrows a search to exactly the notes it names, and every
 * hit says its date and whether it is stale.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localDay, type SearchFilter } from '@keel/schemas';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { openMemory, writeNote } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let memory: MemoryService;

/** The local day `days` ago (negative: ahead), as notes are dated. */
const ago = (days: number): string => localDay(new Date(Date.now() - days * 86_400_000));

/** Each note says "pricing" so one query reaches all of them, and only the filter decides. */
const NOTES: Record<string, string> = {
  'memory/customers/fresh.md': `---\ntype: customer\ntags: [retail, vip]\ndate: ${ago(2)}\n---\n# Fresh\n\nPricing agreed this week.\n`,
  'memory/customers/month.md': `---\ntype: customer\ntags: [retail]\ndate: ${ago(20)}\n---\n# Month\n\nPricing from last month.\n`,
  'memory/customers/expired.md': `---\ntype: customer\ntags: [vip]\ndate: ${ago(5)}\nreview-by: ${ago(1)}\n---\n# Expired\n\nPricing that was due for review yesterday.\n`,
  'memory/decisions/old.md': `---\ntype: decision\ndate: ${ago(400)}\n---\n# Old\n\nPricing decision from last year.\n`,
  'memory/decisions/reviewed.md': `---\ntype: decision\ndate: ${ago(400)}\nreview-by: ${ago(-30)}\n---\n# Reviewed\n\nPricing decision, reviewed and valid for a month.\n`,
  'memory/decisions/sub/deep.md': `---\ntype: decision\ndate: ${ago(10)}\n---\n# Deep\n\nPricing decision in a subfolder.\n`,
};

beforeEach(async () => {
  dirs = await makeTempDirs();
  for (const [path, content] of Object.entries(NOTES)) await writeNote(dirs.workspace, path, content);
  memory = await openMemory(dirs.workspace, { maxAgeDays: 365 });
  await memory.sync();
});
afterEach(async () => {
  await memory.close();
  await dirs.cleanup();
});

async function found(filter?: SearchFilter): Promise<string[]> {
  const results = await memory.search({ query: 'pricing', k: 50, ...(filter ? { filter } : {}) });
  return [...new Set(results.map((r) => r.path.replace(/^memory\//, '')))].sort();
}

describe('freshness filters', () => {
  it('finds every note without a filter, each with its date and staleness', async () => {
    const results = await memory.search({ query: 'pricing', k: 50 });
    const byPath = Object.fromEntries(results.map((r) => [r.path, r]));
    expect(Object.keys(byPath)).toHaveLength(6);
    expect(byPath['memory/customers/fresh.md']).toMatchObject({ date: ago(2), stale: false, reviewBy: null });
    expect(byPath['memory/customers/expired.md']).toMatchObject({
      date: ago(5),
      stale: true,
      reviewBy: ago(1),
    });
    expect(byPath['memory/decisions/old.md']).toMatchObject({ date: ago(400), stale: true });
    expect(byPath['memory/decisions/reviewed.md']).toMatchObject({ stale: false, reviewBy: ago(-30) });
  });

  it('since and until narrow by date, relative or absolute', async () => {
    expect(await found({ since: '1w' })).toEqual(['customers/expired.md', 'customers/fresh.md']);
    expect(await found({ since: '30d' })).toEqual([
      'customers/expired.md',
      'customers/fresh.md',
      'customers/month.md',
      'decisions/sub/deep.md',
    ]);
    expect(await found({ since: '72h', until: '1d' })).toEqual(['customers/fresh.md']);
    expect(await found({ until: '100d' })).toEqual(['decisions/old.md', 'decisions/reviewed.md']);
    expect(await found({ since: ago(10), until: ago(10) })).toEqual(['decisions/sub/deep.md']);
  });

  it('excludeStale leaves out the expired and the too old, and keeps a reviewed old note', async () => {
    expect(await found({ excludeStale: true })).toEqual([
      'customers/fresh.md',
      'customers/month.md',
      'decisions/reviewed.md',
      'decisions/sub/deep.md',
    ]);
  });

  it('type, tags (any or all) and path (prefix or glob) each narrow', async () => {
    expect(await found({ type: 'decision' })).toEqual([
      'decisions/old.md',
      'decisions/reviewed.md',
      'decisions/sub/deep.md',
    ]);
    expect(await found({ tags: ['retail', 'vip'] })).toEqual([
      'customers/expired.md',
      'customers/fresh.md',
      'customers/month.md',
    ]);
    expect(await found({ tags: ['retail', 'vip'], tagsMatch: 'all' })).toEqual(['customers/fresh.md']);
    expect(await found({ path: 'memory/decisions/' })).toEqual([
      'decisions/old.md',
      'decisions/reviewed.md',
      'decisions/sub/deep.md',
    ]);
    expect(await found({ path: 'memory/decisions/*.md' })).toEqual([
      'decisions/old.md',
      'decisions/reviewed.md',
    ]);
    expect(await found({ path: 'memory/**/d*.md' })).toEqual(['decisions/sub/deep.md']);
    expect(await found({ path: 'memory/customers/f?esh.md' })).toEqual(['customers/fresh.md']);
  });

  it('filters combine, and k counts hits after filtering (the filter runs inside the query)', async () => {
    expect(await found({ type: 'customer', since: '30d', excludeStale: true })).toEqual([
      'customers/fresh.md',
      'customers/month.md',
    ]);
    const one = await memory.search({ query: 'pricing', k: 1, filter: { path: 'memory/decisions/sub/' } });
    expect(one.map((r) => r.path)).toEqual(['memory/decisions/sub/deep.md']);
  });
});
