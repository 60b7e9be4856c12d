/**
 * Memory as of a date, with real git and real LanceDB: a note committed on day A, changed on day B
 * and deleted on day C is found as it was on each day, while live search follows the files.
 */
import { execFileSync } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEPT_SNAPSHOTS } from '../../daemon/src/memory/history/memorySnapshots';
import { BATCH_NOTES } from '../../daemon/src/memory/history/snapshotRows';
import type { MemoryService } from '../../daemon/src/memory/memoryService';
import { openMemory, writeCompany, writeNote } from '../helpers/memory';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const NOTE = 'memory/customers/globex.md';
let dirs: TempDirs;
let memory: MemoryService | null = null;

/** Commits everything as of `day` at noon UTC (committer and author dates). */
function commitOn(root: string, day: string, message: string): string {
  const at = `${day}T12:00:00Z`;
  const env = { ...process.env, GIT_COMMITTER_DATE: at, GIT_AUTHOR_DATE: at };
  execFileSync('git', ['add', '-A'], { cwd: root, env });
  execFileSync('git', ['commit', '-q', '-m', message], { cwd: root, env });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
}

function gitInit(root: string): void {
  execFileSync('git', ['init', '-q'], { cwd: root });
  execFileSync('git', ['config', 'user.name', 'Maya'], { cwd: root });
  execFileSync('git', ['config', 'user.email', 'maya@example.com'], { cwd: root });
}

beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await memory?.close();
  memory = null;
  await dirs.cleanup();
});

const texts = (results: { path: string; text: string }[]): string =>
  results.map((r) => `${r.path}: ${r.text}`).join('\n');

describe('keel search --as-of', () => {
  it('answers from the notes as they were on each day; live search follows the files', async () => {
    const root = dirs.workspace;
    gitInit(root);
    await writeCompany(root);
    await writeNote(root, NOTE, '# Globex\n\nGlobex buys quokka feed every spring.\n');
    const dayA = commitOn(root, '2026-01-10', 'Globex v1');
    await writeNote(root, NOTE, '# Globex\n\nGlobex switched to wombat feed in autumn.\n');
    commitOn(root, '2026-01-20', 'Globex v2');
    await rm(join(root, NOTE));
    commitOn(root, '2026-01-30', 'Globex gone');
    // Live: an uncommitted note the past never held.
    await writeNote(root, NOTE, '# Globex\n\nGlobex now farms platypus.\n');

    memory = await openMemory(root);
    await memory.sync();

    const onA = await memory.searchAsOf({ query: 'Globex feed', k: 10, asOf: '2026-01-10' });
    expect(onA.snapshot).toMatchObject({ commit: dayA, requested: '2026-01-10', cached: false });
    expect(onA.snapshot.committedAt).toMatch(/^2026-01-10T12:00:00/);
    expect(onA.snapshot.documents).toBe(6);
    expect(onA.results[0]).toMatchObject({ path: NOTE });
    expect(texts(onA.results)).toContain('quokka');
    expect(texts(onA.results)).not.toMatch(/wombat|platypus/);

    const onB = await memory.searchAsOf({ query: 'Globex feed', k: 10, asOf: '2026-01-20T23:00:00Z' });
    expect(texts(onB.results)).toContain('wombat');
    expect(texts(onB.results)).not.toMatch(/quokka|platypus/);

    const onC = await memory.searchAsOf({ query: 'Globex feed', k: 10, asOf: '2026-01-30' });
    expect(onC.results.map((r) => r.path)).not.toContain(NOTE);
    expect(onC.results.length).toBeGreaterThan(0); // the other notes are still there

    const live = await memory.search({ query: 'Globex platypus', k: 10 });
    expect(live[0]).toMatchObject({ path: NOTE });
    expect(texts(live)).not.toMatch(/quokka|wombat/);

    // The same commit again: from the cache, even after the open index is closed.
    const again = await memory.searchAsOf({ query: 'quokka', k: 3, asOf: '2026-01-12' });
    expect(again.snapshot).toMatchObject({ commit: dayA, cached: true, buildMs: 0 });
    await memory.close();
    memory = await openMemory(root);
    const reopened = await memory.searchAsOf({ query: 'quokka', k: 3, asOf: dayA.slice(0, 10) });
    expect(reopened.snapshot).toMatchObject({ commit: dayA, cached: true });
    expect(reopened.results[0]?.text).toContain('quokka');

    // A cache folder emptied by hand is noticed and built again, not answered from as empty.
    await memory.close();
    await rm(join(root, '.keel', 'cache', 'as-of', dayA, 'lance'), { recursive: true });
    memory = await openMemory(root);
    const rebuilt = await memory.searchAsOf({ query: 'quokka', k: 3, asOf: '2026-01-10' });
    expect(rebuilt.snapshot).toMatchObject({ commit: dayA, cached: false });
    expect(rebuilt.results[0]?.text).toContain('quokka');
  });

  it('keeps only the most recently searched commits on disk', async () => {
    const root = dirs.workspace;
    gitInit(root);
    const days = ['2026-02-01', '2026-02-02', '2026-02-03', '2026-02-04', '2026-02-05', '2026-02-06'];
    const commits: string[] = [];
    for (const day of days) {
      await writeNote(root, NOTE, `# Globex\n\nOn ${day} Globex ordered heron feed.\n`);
      commits.push(commitOn(root, day, day));
    }
    memory = await openMemory(root);
    for (const day of days) {
      const { results } = await memory.searchAsOf({ query: 'heron feed', k: 1, asOf: day });
      expect(results[0]?.text).toContain(`On ${day}`);
    }
    const kept = await readdir(join(root, '.keel', 'cache', 'as-of'));
    expect(kept.sort()).toEqual(commits.slice(-KEPT_SNAPSHOTS).sort());
  });

  it('never trims the folder of a commit a search is still building or reading', async () => {
    const root = dirs.workspace;
    gitInit(root);
    const days = Array.from({ length: KEPT_SNAPSHOTS + 3 }, (_, i) => `2026-03-0${i + 1}`);
    for (const day of days) {
      await writeNote(root, NOTE, `# Globex\n\nOn ${day} Globex ordered heron feed.\n`);
      commitOn(root, day, day);
    }
    memory = await openMemory(root);
    const open = memory;
    // All at once: each finished build trims the cache while the other searches are under way.
    const answers = await Promise.all(
      days.map((asOf) => open.searchAsOf({ query: 'heron feed', k: 1, asOf })),
    );
    expect(answers.map((a) => a.results[0]?.text.match(/On (\S+)/)?.[1])).toEqual(days);
  });

  it('builds a commit larger than one batch whole: every note counted, the last batch found', async () => {
    const root = dirs.workspace;
    gitInit(root);
    const count = 2 * BATCH_NOTES + 5;
    for (let i = 0; i < count; i++) {
      const name = String(i).padStart(4, '0');
      await writeNote(root, `memory/notes/n${name}.md`, `# Note ${name}\n\nRoutine entry ${name}.\n`);
    }
    await writeNote(root, 'memory/notes/zz-last.md', '# Last\n\nThe capybara contract renews in May.\n');
    commitOn(root, '2026-04-01', 'Many notes');
    memory = await openMemory(root);
    const { results, snapshot } = await memory.searchAsOf({ query: 'capybara', k: 1, asOf: '2026-04-01' });
    expect(snapshot.documents).toBe(count + 1);
    expect(results[0]).toMatchObject({ path: 'memory/notes/zz-last.md' });
  });

  it('names the fix when there is no commit that early, or no git at all', async () => {
    const root = dirs.workspace;
    memory = await openMemory(root);
    await expect(memory.searchAsOf({ query: 'x', k: 1, asOf: '2026-01-10' })).rejects.toThrow(
      /not a git repository.*git init/,
    );
    gitInit(root);
    await expect(memory.searchAsOf({ query: 'x', k: 1, asOf: '2026-01-10' })).rejects.toThrow(
      /no commits yet/,
    );
    await writeCompany(root);
    commitOn(root, '2026-01-10', 'start');
    await expect(memory.searchAsOf({ query: 'x', k: 1, asOf: '2025-12-31' })).rejects.toThrow(
      /No commit .* at or before 2025-12-31: its history starts 2026-01-10.*give a later date/,
    );
    await expect(memory.searchAsOf({ query: 'x', k: 1, asOf: '2026-02-30' })).rejects.toThrow(/not a date/);
    await expect(memory.searchAsOf({ query: 'x', k: 1, asOf: 'abcdef1234' })).rejects.toThrow(
      /is not a commit/,
    );
  });

  it('prints the commit it answered from through the CLI', async () => {
    const root = dirs.workspace;
    expect((await runKeel(['init', root], { runtime: dirs.runtime })).code).toBe(0);
    gitInit(root);
    await writeNote(root, NOTE, '# Globex\n\nGlobex buys quokka feed every spring.\n');
    const dayA = commitOn(root, '2026-01-10', 'Globex v1');
    await writeNote(root, NOTE, '# Globex\n\nGlobex switched to wombat feed.\n');
    commitOn(root, '2026-01-20', 'Globex v2');

    const shown = await runKeel(['search', '--as-of', '2026-01-15', 'Globex feed'], {
      cwd: root,
      runtime: dirs.runtime,
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(
      `Memory as of 2026-01-15: commit ${dayA.slice(0, 12)} of 2026-01-10T12:00:00`,
    );
    expect(shown.stdout).toContain('quokka');
    expect(shown.stdout).not.toContain('wombat');

    const json = await runKeel(['search', '--as-of', dayA.slice(0, 8), '--json', 'Globex'], {
      cwd: root,
      runtime: dirs.runtime,
    });
    const answer = JSON.parse(json.stdout) as { snapshot: { commit: string; cached: boolean } };
    expect(answer.snapshot).toMatchObject({ commit: dayA, cached: true });
  });
});
