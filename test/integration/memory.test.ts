/**
 * The memory plane with its real stores: what search finds, filters and freshness, and that the
 * index converges to the files after any sequence of changes.
 */
import { cp, mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../daemon/src/log';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { openMemory, writeCompany, writeNote } from '../helpers/memory';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
const open: MemoryService[] = [];

async function memoryOf(root: string, config?: Parameters<typeof openMemory>[1]): Promise<MemoryService> {
  const memory = await openMemory(root, config);
  open.push(memory);
  await memory.sync();
  return memory;
}

beforeEach(async () => {
  dirs = await makeTempDirs();
  await writeCompany(dirs.workspace);
});
afterEach(async () => {
  for (const memory of open.splice(0)) await memory.close();
  await dirs.cleanup();
});

describe('search', () => {
  it('finds the note and the lines that answer the question', async () => {
    const memory = await memoryOf(dirs.workspace);
    const [top] = await memory.search({ query: 'when is the Acme contract renewal due?', k: 3 });
    expect(top).toMatchObject({
      path: 'memory/customers/acme.md',
      startLine: 10,
      endLine: 12,
      heading: 'Acme Corp > Contract',
      type: 'customer',
      tags: ['logistics', 'priority'],
    });
    expect(top!.text).toContain('renewal is due in March');
    expect(top!.score).toBeGreaterThan(0);
  });

  it('indexes YAML files too, and never keel.yaml', async () => {
    await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\ncompany: Follow-up Email Experts\n');
    const memory = await memoryOf(dirs.workspace);
    const results = await memory.search({ query: 'follow-up email', k: 10 });
    expect(results[0]?.path).toBe('runbooks/sales.yaml');
    expect(results.map((r) => r.path)).not.toContain('keel.yaml');
  });

  it('filters by type, tags, path prefix and date range', async () => {
    const memory = await memoryOf(dirs.workspace);
    const paths = async (filter: object): Promise<string[]> =>
      [...new Set((await memory.search({ query: 'the', k: 20, filter })).map((r) => r.path))].sort();
    expect(await paths({ type: 'customer' })).toEqual([
      'memory/customers/acme.md',
      'memory/customers/northwind.md',
    ]);
    expect(await paths({ type: ['decision', 'note'] })).toEqual([
      'memory/decisions/2026-03-hiring.md',
      'memory/notes/old-idea.md',
    ]);
    expect(await paths({ tags: ['retail', 'hiring'] })).toEqual([
      'memory/customers/northwind.md',
      'memory/decisions/2026-03-hiring.md',
    ]);
    expect(await paths({ pathPrefix: 'memory/decisions/' })).toEqual(['memory/decisions/2026-03-hiring.md']);
    expect(await paths({ dateFrom: '2026-03-01', dateTo: '2026-11-21' })).toEqual([
      'memory/customers/northwind.md',
      'memory/decisions/2026-03-hiring.md',
    ]);
  });

  it('ranks first the note whose frontmatter value the query names (the mention prior)', async () => {
    // Both notes say the same, the second in fewer words, so full-text search alone ranks it first;
    // it names Priya in passing. The first has her as the call's `with`: a query naming her means it.
    await writeNote(
      dirs.workspace,
      'memory/calls/call-1.md',
      '---\nwith: Priya Raman\n---\n# Call\n\nWe went over the invoice schedule for next quarter.\n',
    );
    await writeNote(
      dirs.workspace,
      'memory/calls/call-2.md',
      '# Call\n\nInvoice schedule for next quarter, with Priya Raman.\n',
    );
    // A weak match, so that scores scaled within the list do not put the first note at zero.
    await writeNote(dirs.workspace, 'memory/calls/call-3.md', '# Call\n\nThe schedule slipped again.\n');
    const memory = await memoryOf(dirs.workspace);
    const text = await memory.search({ query: 'invoice schedule Priya Raman', k: 2 }, 'text');
    expect(text.map((r) => r.path)).toEqual(['memory/calls/call-1.md', 'memory/calls/call-2.md']);
    // Without the name, the shorter note wins again: the prior, not the text, put the first one up.
    const other = await memory.search({ query: 'invoice schedule next quarter', k: 2 }, 'text');
    expect(other[0]?.path).toBe('memory/calls/call-2.md');
    // Hybrid search, as `keel search` runs by default, agrees.
    const hybrid = await memory.search({ query: 'invoice schedule Priya Raman', k: 2 });
    expect(hybrid[0]?.path).toBe('memory/calls/call-1.md');
  });

  it('leaves the archive out unless the filter asks for it, and still fills the results', async () => {
    // Thirty archived notes match the query better than the two live ones: every list's first
    // 25 hits are archived, so the live notes are only found by asking again without the archive.
    for (let i = 1; i <= 30; i++)
      await writeNote(
        dirs.workspace,
        `memory/archive/working/brief-${i}.md`,
        `# Zebracorn renewal ${i}\n\nZebracorn renewal, zebracorn renewal: the zebracorn renewal call.\n`,
      );
    await writeNote(
      dirs.workspace,
      'memory/notes/zebracorn.md',
      '# Plans\n\nAsk about the zebracorn renewal.\n',
    );
    await writeNote(dirs.workspace, 'memory/notes/later.md', '# Later\n\nThe zebracorn deal, in May.\n');
    const memory = await memoryOf(dirs.workspace);
    const live = await memory.search({ query: 'zebracorn renewal', k: 3 });
    expect(live.map((r) => r.path).slice(0, 2)).toEqual([
      'memory/notes/zebracorn.md',
      'memory/notes/later.md',
    ]);
    expect(live.some((r) => r.path.startsWith('memory/archive/'))).toBe(false);
    const archived = await memory.search({
      query: 'zebracorn renewal',
      k: 3,
      filter: { path: 'memory/archive/**' },
    });
    expect(archived).toHaveLength(3);
    expect(archived.every((r) => r.path.startsWith('memory/archive/working/'))).toBe(true);
  });

  it('finds the reply after the message that matches the question (the sequence prior)', async () => {
    // A chat export, one message per note: the question's words are in msg-9, the answer in msg-10,
    // which shares none of them. In name order msg-10 follows msg-9 (a plain sort puts it before).
    const chat: Record<string, string> = {
      'msg-1.md': 'Dana: Morning! The train tickets for the team trip are booked.',
      'msg-2.md': 'Sam: Great, I will bring the projector for the offsite talks.',
      'msg-9.md': 'Sam: Which venue did we book for the offsite in May?',
      'msg-10.md': 'Dana: The lighthouse in Scheveningen, right by the beach.',
      'msg-11.md': 'Sam: Perfect, thanks.',
      'msg-12.md': 'Dana: Did you book the caterer for the offsite as well?',
    };
    for (const [name, text] of Object.entries(chat))
      await writeNote(dirs.workspace, `memory/chat/${name}`, `${text}\n`);
    const question = { query: 'Which venue did we book for the offsite?', k: 3 };
    const found = (await (await memoryOf(dirs.workspace)).search(question)).map((r) => r.path);
    expect(found).toContain('memory/chat/msg-10.md');
    // The prior, not the text, found it: without it the answer is not among the first three.
    const off = await memoryOf(dirs.workspace, { search: { followingWeight: 0, precedingWeight: 0 } });
    expect((await off.search(question)).map((r) => r.path)).not.toContain('memory/chat/msg-10.md');
  });

  it('finds an answer two messages after the question (the sequence prior reaches two)', async () => {
    // The reply to the question only says it will look; the answer comes in the message after.
    const chat: Record<string, string> = {
      'msg-1.md': 'Sam: Lovely dinner with the team yesterday, the offsite planning is going well.',
      'msg-2.md': 'Dana: Agreed! The dinner menu for the offsite still needs a vegetarian option.',
      'msg-3.md': 'Sam: Who is catering the offsite dinner in May?',
      'msg-4.md': 'Dana: Good question, let me look it up.',
      'msg-5.md': 'Dana: Found it: Trattoria Luigi from Delft.',
      'msg-6.md': 'Sam: Perfect, thanks.',
    };
    for (const [name, text] of Object.entries(chat))
      await writeNote(dirs.workspace, `memory/chat/${name}`, `${text}\n`);
    const question = { query: 'Who caters the offsite dinner?', k: 3 };
    // Lifted after the structure priors: by default (sequenceFirst) the priors come last and put
    // msg-1 and msg-2, which hold two of the question's words each, before the answer (fifth).
    const search = { sequenceFirst: false };
    const found = (await (await memoryOf(dirs.workspace, { search })).search(question)).map((r) => r.path);
    expect(found).toContain('memory/chat/msg-5.md');
    const oneStep = await memoryOf(dirs.workspace, { search: { ...search, neighbourReach: 1 } });
    expect((await oneStep.search(question)).map((r) => r.path)).not.toContain('memory/chat/msg-5.md');
  });

  it('marks results stale past their review-by date or older than the age policy', async () => {
    const memory = await memoryOf(dirs.workspace, { maxAgeDays: 3 * 365 });
    const stale = async (query: string): Promise<boolean | undefined> =>
      (await memory.search({ query, k: 1 }))[0]?.stale;
    expect(await stale('Rotterdam logistics')).toBe(true); // review-by 2020-01-01
    expect(await stale('podcast bookkeeping')).toBe(true); // dated 2019, policy 3 years
    expect(await stale('onboarding call with Sam')).toBe(false);
  });

  it('reports a note that does not parse, indexes the rest, and never changes a file', async () => {
    await writeNote(dirs.workspace, 'memory/broken.md', '---\ntype: [customer\n---\nUnparseable.\n');
    const before = await snapshotFiles(dirs.workspace);
    const memory = await memoryOf(dirs.workspace);
    const status = memory.status();
    expect(status.documents).toBe(5);
    expect(status.problems).toEqual([
      expect.objectContaining({ path: 'memory/broken.md', line: 2, severity: 'error' }),
    ]);
    expect(await snapshotFiles(dirs.workspace)).toEqual(before);
  });
});

describe('start', () => {
  it('closed while its start still compares the index with the files, reports nothing as failed', async () => {
    const first = await openMemory(dirs.workspace);
    await first.sync();
    await first.close();
    const lines: string[] = [];
    const memory = await openMemory(dirs.workspace, {
      log: createLogger({ level: 'warn', write: (line) => lines.push(line) }),
    });
    memory.start();
    await memory.close();
    await memory.current();
    expect(lines).toEqual([]);
  });
});

describe('convergence', () => {
  it('after edits, deletes, renames and a burst of 1,000 files, matches a full rebuild', async () => {
    const memory = await memoryOf(dirs.workspace);
    const root = dirs.workspace;
    // Edit, delete, rename (the way editors and git do it), and a burst of new files.
    await writeNote(
      root,
      'memory/customers/acme.md',
      '---\ntype: customer\n---\n# Acme Corp\n\nAcme moved to Antwerp in 2026.\n',
    );
    await rm(join(root, 'memory/notes/old-idea.md'));
    await rename(
      join(root, 'memory/customers/northwind.md'),
      join(root, 'memory/customers/northwind-traders.md'),
    );
    await mkdir(join(root, 'memory/burst'), { recursive: true });
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        writeFile(
          join(root, `memory/burst/n${i}.md`),
          `---\ntype: note\n---\n# Note ${i}\n\nToken zq${i}x appears only here.\n`,
        ),
      ),
    );
    await rm(join(root, 'memory/burst/n7.md'));
    await memory.sync();

    const fresh = join(dirs.workspace, '..', 'fresh');
    await cp(root, fresh, { recursive: true, filter: (source) => !source.includes('/.keel') });
    const rebuilt = await memoryOf(fresh);

    expect(memory.status()).toMatchObject({ documents: 1003, chunks: rebuilt.status().chunks });
    expect(rebuilt.status().documents).toBe(1003);
    const queries = [
      'Antwerp',
      'Rotterdam',
      'onboarding call with Sam',
      'podcast',
      'zq7x',
      'zq512x',
      'designer agency',
      'Acme customer',
    ];
    for (const query of queries) {
      const ours = (await memory.search({ query, k: 5 })).map((r) => `${r.path}:${r.startLine}`);
      const theirs = (await rebuilt.search({ query, k: 5 })).map((r) => `${r.path}:${r.startLine}`);
      expect(ours, query).toEqual(theirs);
    }
    expect((await memory.search({ query: 'zq512x', k: 1 }))[0]?.path).toBe('memory/burst/n512.md');
    // The old text is gone from the full-text index (the vectors may still find Antwerp near Rotterdam).
    expect((await memory.search({ query: 'Rotterdam', k: 3 }, 'text')).map((r) => r.path)).not.toContain(
      'memory/customers/acme.md',
    );
  });

  it('skips unchanged files by content hash', async () => {
    const memory = await memoryOf(dirs.workspace);
    const path = join(dirs.workspace, 'memory/customers/acme.md');
    await writeFile(path, await readFile(path)); // Same bytes, new time.
    const result = await memory.sync();
    expect(result.indexed).toBe(0);
  });

  it('reads again a note read within its clock tick, so a same-size rewrite in that tick is seen', async () => {
    // A rewrite within one tick of the file system's clock keeps the size and the time: only a
    // note read too soon after its time is not trusted by them. A time ahead of the clock stands in
    // for that tick here, so the test does not depend on the machine's speed.
    const path = join(dirs.workspace, 'memory/notes/tick.md');
    const tick = new Date(Date.now() + 60_000);
    await writeNote(dirs.workspace, 'memory/notes/tick.md', '# Tick\n\nThe first word is aardvark.\n');
    await utimes(path, tick, tick);
    const memory = await memoryOf(dirs.workspace);
    expect((await memory.search({ query: 'aardvark', k: 3 }, 'text'))[0]?.path).toBe('memory/notes/tick.md');

    await writeFile(path, '# Tick\n\nThe first word is pangolin.\n'); // Same size.
    await utimes(path, tick, tick);
    await memory.sync();
    expect((await memory.search({ query: 'pangolin', k: 3 }, 'text'))[0]?.path).toBe('memory/notes/tick.md');
  });
});

async function snapshotFiles(root: string): Promise<Record<string, string>> {
  const { readdir } = await import('node:fs/promises');
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && !path.includes('/.keel/')) out[path] = await readFile(path, 'utf8');
  }
  return out;
}
