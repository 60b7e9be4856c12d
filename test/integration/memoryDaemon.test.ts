/**
 * The memory plane through the real daemon and CLI: a saved note becomes searchable by itself,
 * `keel index` and `keel search` (one query or a batch) work with or without a running daemon.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexStatusRequest, MemoryGetRequest, MemorySearchRequest, type SearchResult } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import type { SocketClient } from '../../daemon/src/rpc/socketClient';
import { writeCompany, writeNote } from '../helpers/memory';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  await writeCompany(dirs.workspace);
});
afterEach(async () => {
  if (daemon && daemon.process.exitCode === null) {
    daemon.process.kill('SIGTERM');
    await daemon.exited;
  }
  daemon = null;
  await dirs.cleanup();
});

/** A client of the daemon, found as the CLI finds it: through the per-user runtime directory. */
async function connect(): Promise<SocketClient> {
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  return attachToDaemon(dirs.workspace);
}

async function search(client: SocketClient, query: string): Promise<SearchResult[]> {
  return (await client.request(MemorySearchRequest, { query, k: 5 })).results;
}

describe('a running daemon', () => {
  it('makes a saved note searchable, then follows its edit and its deletion', async () => {
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const client = await connect();
    await waitFor(
      'the initial index',
      async () => (await client.request(IndexStatusRequest)).state === 'ready',
    );

    await writeNote(
      dirs.workspace,
      'memory/customers/globex.md',
      '---\ntype: customer\n---\n# Globex\n\nGlobex buys quokka feed.\n',
    );
    const found = await waitFor('the new note in search', async () =>
      (await search(client, 'quokka feed')).find((r) => r.path === 'memory/customers/globex.md'),
    );
    expect(found).toMatchObject({ startLine: 4, endLine: 6, type: 'customer' });

    await writeNote(
      dirs.workspace,
      'memory/customers/globex.md',
      '# Globex\n\nGlobex switched to wombat feed.\n',
    );
    await waitFor('the edit in search', async () =>
      (await search(client, 'wombat'))[0]?.text.includes('wombat feed'),
    );
    // The old text is gone from the index (vector search still ranks every note, so compare texts).
    expect((await search(client, 'quokka')).map((r) => r.text).join('\n')).not.toContain('quokka');

    await rm(join(dirs.workspace, 'memory/customers/globex.md'));
    await waitFor('the deletion in search', async () =>
      (await search(client, 'wombat feed')).every((r) => r.path !== 'memory/customers/globex.md'),
    );
    await waitFor(
      'the note count to drop',
      async () => (await client.request(IndexStatusRequest)).documents === 5,
    );
    await client.close();
  });

  it('reads a note from disk through keel/memory/get, and refuses paths outside memory', async () => {
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const client = await connect();
    const note = await client.request(MemoryGetRequest, { path: 'memory/customers/northwind.md' });
    expect(note).toMatchObject({ type: 'customer', tags: ['retail'], date: '2026-11-20', problems: [] });
    for (const path of ['../etc/passwd', '.git/config', '.keel/daemon.lock', 'keel.yaml']) {
      await expect(client.request(MemoryGetRequest, { path })).rejects.toThrow(/not a memory file/);
    }
    await client.close();
  });

  it('rebuilds its index when .keel/ is deleted under it, and keeps its lock', async () => {
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    const client = await connect();
    await waitFor(
      'the initial index',
      async () => (await client.request(IndexStatusRequest)).documents === 5,
    );
    // The daemon may be writing into .keel/ at this moment; rm retries like a user would.
    await rm(join(dirs.workspace, '.keel'), { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    await waitFor('the repaired index', async () => {
      const status = await client.request(IndexStatusRequest);
      return status.recovery !== null && status.documents === 5 && status.state === 'ready';
    });
    expect((await search(client, 'Rotterdam'))[0]?.path).toBe('memory/customers/acme.md');
    const lock = JSON.parse(await readFile(join(dirs.workspace, '.keel', 'daemon.lock'), 'utf8')) as {
      pid: number;
    };
    expect(lock.pid).toBe(daemon.pid);
    await client.close();
  });
});

describe('the CLI', () => {
  it('indexes, then searches with filters, in human and JSON form', async () => {
    const index = await runKeel(['index'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(index.code).toBe(0);
    expect(index.stdout).toMatch(/matches the files: 5 notes, \d+ chunks \(5 indexed, 0 removed/);
    const human = await runKeel(['search', 'renewal pricing'], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    // Each hit says its date, and why it is stale: acme's review-by day has passed.
    expect(human.stdout).toMatch(
      /^1\. memory\/customers\/acme\.md:10-12 {2}Acme Corp > Contract {2}\(\d{4}-\d{2}-\d{2}\) {2}\[stale: expired 2020-01-01\]/,
    );
    // Only review-by days make notes stale here, whatever today is: the fixture's dates are fixed.
    const config = join(dirs.workspace, 'keel.yaml');
    await writeFile(config, (await readFile(config, 'utf8')).replace('maxAgeDays: 365', 'maxAgeDays: 36500'));
    const fresh = await runKeel(
      ['search', 'the', '--since', '2026-01-01', '--exclude-stale', '--path', 'memory/**/*.md', '--json'],
      { cwd: dirs.workspace, runtime: dirs.runtime },
    );
    const kept = JSON.parse(fresh.stdout) as { results: SearchResult[] };
    expect([...new Set(kept.results.map((r) => r.path))].sort()).toEqual([
      'memory/customers/northwind.md',
      'memory/decisions/2026-03-hiring.md',
    ]);
    const wrong = await runKeel(['search', 'the', '--since', '30x'], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/"30x" is not a time: .*30d/);
    const json = await runKeel(['search', 'the', '--type', 'decision', '--json', '--k', '3'], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    const answer = JSON.parse(json.stdout) as { results: SearchResult[] };
    expect(answer.results.map((r) => r.path)).toEqual(['memory/decisions/2026-03-hiring.md']);
  });

  it('answers a batch of JSON Lines queries with one line each, in order, in one process', async () => {
    const batch = join(dirs.workspace, '..', 'queries.jsonl');
    await writeFile(
      batch,
      [
        { id: 'q1', query: 'onboarding call' },
        { id: 2, query: 'freelance designer', k: 1 },
        { id: 'q3', query: 'podcast', filter: { type: 'customer' } },
      ]
        .map((q) => JSON.stringify(q))
        .join('\n') + '\n',
    );
    const result = await runKeel(['search', '--batch', batch, '--json'], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string | number; results: SearchResult[] });
    expect(lines.map((l) => l.id)).toEqual(['q1', 2, 'q3']);
    expect(lines[0]!.results[0]!.path).toBe('memory/customers/northwind.md');
    expect(lines[1]!.results).toHaveLength(1);
    expect(lines[2]!.results.every((r) => r.type === 'customer')).toBe(true);
  });

  it('names the line of a bad batch query', async () => {
    const batch = join(dirs.workspace, '..', 'bad.jsonl');
    await writeFile(batch, '{"id":1,"query":"ok"}\nnot json\n');
    const result = await runKeel(['search', '--batch', batch], {
      cwd: dirs.workspace,
      runtime: dirs.runtime,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${batch}:2`);
  });

  it('ends a large first index without a warning: the upkeep after it finishes before the exit', async () => {
    // Past 1,000 files the upkeep asks the worker for a collection; closing under it warned that
    // the upkeep had failed, about one run in three.
    for (let i = 1; i <= 1_200; i++)
      await writeNote(dirs.workspace, `memory/log/day-${i}.md`, `# Day ${i}\n\nCalls about topic ${i}.\n`);
    const result = await runKeel(['index'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/1205 notes/);
    expect(result.stderr).not.toMatch(/WARN|ERROR/);
  }, 60_000);

  it('rebuilds on request, reporting problems and exiting 1 when a note cannot be indexed', async () => {
    await writeNote(dirs.workspace, 'memory/broken.md', '---\ntags: [a\n---\n');
    const result = await runKeel(['index', '--rebuild'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/5 notes/);
    expect(result.stdout).toMatch(/error +memory\/broken\.md:2:\d+ Frontmatter is not valid YAML/);
  });
});
