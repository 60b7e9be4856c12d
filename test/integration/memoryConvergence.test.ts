/**
 * Memory converges to the files within 2 s of the last write, whatever the pattern: a real daemon
 * under ~2,000 operations (nested folders made and written into at once, atomic saves, renames of
 * files and folders, deletes, same-size rewrites, then a trickle) indexes exactly the notes on disk,
 * each with its current content.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { IndexStatusRequest, MemorySearchRequest } from '@keel/schemas';
import { attachToDaemon } from '../../daemon/src/cli/connect';
import type { SocketClient } from '../../daemon/src/rpc/socketClient';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const GROUPS = 10;
/** A search answers at most 200 chunks: each group stays below that, one chunk per note. */
const GROUP_CAP = 150;
const OPERATIONS = 2_000;
const CONVERGE_WITHIN_MS = 2_000;

let dirs: TempDirs;
let daemon: RunningDaemon | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
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

/** A deterministic pseudo-random source, so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Every version of every note has the same length and a unique token: a rewrite changes the content
 * but neither the size nor (within the clock's granularity) the time.
 */
let version = 0;
function note(): string {
  version++;
  return `# Note\n\ntorturenote v${version.toString(36).padStart(6, '0')}\n`;
}
const tokenOf = (content: string): string => /v[0-9a-z]{6}/.exec(content)![0];

/** The torture: a model of the folders and notes, kept in step with the disk. */
class Torture {
  readonly files: string[][] = Array.from({ length: GROUPS }, () => []);
  readonly folders: string[][] = Array.from({ length: GROUPS }, (_, g) => [`memory/t/g${g}`]);
  private next = 0;
  ops = 0;

  constructor(
    private readonly root: string,
    private readonly rand: () => number,
  ) {}

  private pick<T>(items: T[]): T {
    return items[Math.floor(this.rand() * items.length)]!;
  }

  private name(): string {
    return `n${(this.next++).toString(36)}`;
  }

  async write(path: string): Promise<void> {
    await writeFile(join(this.root, path), note());
    this.ops++;
  }

  /** mkdir -p of a nested folder, then notes written into each level at once. */
  async newFolders(g: number): Promise<void> {
    const base = this.pick(this.folders[g]!);
    const depth = 1 + Math.floor(this.rand() * 3);
    let folder = base;
    const made: string[] = [];
    for (let i = 0; i < depth; i++) made.push((folder = `${folder}/${this.name()}`));
    await mkdir(join(this.root, folder), { recursive: true });
    this.ops++;
    this.folders[g]!.push(...made);
    for (const level of made) {
      for (let i = 0; i < 2 && this.files[g]!.length < GROUP_CAP; i++) {
        const path = `${level}/${this.name()}.md`;
        await this.write(path);
        this.files[g]!.push(path);
      }
    }
  }

  async create(g: number): Promise<void> {
    const path = `${this.pick(this.folders[g]!)}/${this.name()}.md`;
    await this.write(path);
    this.files[g]!.push(path);
  }

  async rewrite(g: number): Promise<void> {
    await this.write(this.pick(this.files[g]!));
  }

  /** An editor's save: write a hidden temp file, rename it over the note (new or existing). */
  async atomicSave(g: number): Promise<void> {
    const fresh = this.rand() < 0.3 || this.files[g]!.length === 0;
    const path = fresh ? `${this.pick(this.folders[g]!)}/${this.name()}.md` : this.pick(this.files[g]!);
    const temp = join(this.root, dirname(path), `.${this.name()}.tmp`);
    await writeFile(temp, note());
    await rename(temp, join(this.root, path));
    this.ops++;
    if (fresh) this.files[g]!.push(path);
  }

  async renameFile(g: number): Promise<void> {
    const files = this.files[g]!;
    const index = Math.floor(this.rand() * files.length);
    const to = `${this.pick(this.folders[g]!)}/${this.name()}.md`;
    await rename(join(this.root, files[index]!), join(this.root, to));
    this.ops++;
    files[index] = to;
  }

  async remove(g: number): Promise<void> {
    const files = this.files[g]!;
    const index = Math.floor(this.rand() * files.length);
    await rm(join(this.root, files[index]!));
    this.ops++;
    files.splice(index, 1);
  }

  /** Renames a folder below the group's root (and so every note and folder under it). */
  async renameFolder(g: number, remove = false): Promise<void> {
    const candidates = this.folders[g]!.filter((f) => f.split('/').length > 3);
    if (candidates.length === 0) return;
    const from = this.pick(candidates);
    const to = `${dirname(from)}/${this.name()}`;
    const moved = (p: string): boolean => p === from || p.startsWith(`${from}/`);
    if (remove) await rm(join(this.root, from), { recursive: true });
    else await rename(join(this.root, from), join(this.root, to));
    this.ops++;
    const move = (p: string): string => (moved(p) ? to + p.slice(from.length) : p);
    this.folders[g] = remove ? this.folders[g]!.filter((p) => !moved(p)) : this.folders[g]!.map(move);
    this.files[g] = remove ? this.files[g]!.filter((p) => !moved(p)) : this.files[g]!.map(move);
  }

  async step(): Promise<void> {
    const g = Math.floor(this.rand() * GROUPS);
    const full = this.files[g]!.length >= GROUP_CAP;
    const empty = this.files[g]!.length === 0;
    const r = this.rand();
    if (empty || (!full && r < 0.15)) return this.newFolders(g);
    if (!full && r < 0.35) return this.create(g);
    if (r < 0.5) return this.rewrite(g);
    if (r < 0.65) return this.atomicSave(g);
    if (r < 0.77) return this.renameFile(g);
    if (r < 0.9 || full) return this.remove(g);
    if (r < 0.97) return this.renameFolder(g);
    return this.renameFolder(g, true);
  }
}

/** The notes on disk, walked after the torture: path -> token. */
async function onDisk(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const entries = await readdir(join(root, 'memory/t'), { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.md')) continue;
    const path = join(entry.parentPath, entry.name).slice(root.length + 1);
    found.set(path, tokenOf(await readFile(join(root, path), 'utf8')));
  }
  return found;
}

/** What the index holds under memory/t/: path -> token, one full-text search per group. */
async function indexed(client: SocketClient): Promise<Map<string, string>> {
  const answers = await Promise.all(
    Array.from({ length: GROUPS }, (_, g) =>
      client.request(MemorySearchRequest, {
        query: 'torturenote',
        k: 200,
        mode: 'text',
        filter: { pathPrefix: `memory/t/g${g}/` },
      }),
    ),
  );
  const found = new Map<string, string>();
  for (const { results } of answers) {
    for (const r of results) found.set(r.path, /v[0-9a-z]{6}/.exec(r.text)?.[0] ?? '?');
  }
  return found;
}

function differences(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, token] of expected) {
    const got = actual.get(path);
    if (got === undefined) out.push(`missing ${path}`);
    else if (got !== token) out.push(`stale ${path} (${got}, on disk ${token})`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) out.push(`extra ${path}`);
  return out;
}

it('indexes exactly the notes on disk within 2 s of the last of ~2,000 writes', async () => {
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
  const client = await connect();
  const initial = await waitFor('the initial index', async () => {
    const status = await client.request(IndexStatusRequest);
    return status.state === 'ready' ? status : null;
  });

  const torture = new Torture(dirs.workspace, random(Number(process.env.KEEL_TORTURE_SEED ?? 11)));
  for (let g = 0; g < GROUPS; g++) await mkdir(join(dirs.workspace, `memory/t/g${g}`), { recursive: true });
  const started = Date.now();
  // A burst as fast as the disk takes it, a trickle of the same operations 10 to 250 ms apart (around
  // the daemon's own delays), and a last burst.
  const rand = random(7);
  while (torture.ops < OPERATIONS - 240) await torture.step();
  while (torture.ops < OPERATIONS - 200) {
    await torture.step();
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.floor(rand() * 240)));
  }
  while (torture.ops < OPERATIONS) await torture.step();
  const lastWrite = Date.now();

  const expected = await onDisk(dirs.workspace);
  const counted = expected.size;
  expect(counted).toBe(torture.files.flat().length);
  // Poll the index until it matches the disk exactly. The cheap status comes first, so the searches
  // that compare every note do not slow the daemon down while it catches up.
  let convergedAfter: number | null = null;
  let diff: string[] = ['not compared yet'];
  while (Date.now() - lastWrite < CONVERGE_WITHIN_MS + 3_000) {
    const checkedAt = Date.now();
    const status = await client.request(IndexStatusRequest);
    const settled = status.state === 'ready' && status.documents === initial.documents + counted;
    if (settled) diff = differences(expected, await indexed(client));
    if (settled && diff.length === 0) {
      convergedAfter = checkedAt - lastWrite;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (diff.length > 0) diff = differences(expected, await indexed(client));
  console.log(
    `memory convergence: ${torture.ops} operations in ${lastWrite - started} ms, ${counted} notes; ` +
      `converged ${convergedAfter ?? 'never'} ms after the last write` +
      (diff.length > 0 ? `; ${diff.length} differences, e.g. ${diff.slice(0, 5).join(', ')}` : ''),
  );
  if (diff.length > 0) console.log(daemon.output().split('\n').slice(-30).join('\n'));
  expect(diff.slice(0, 10)).toEqual([]);
  expect(convergedAfter).not.toBeNull();
  expect(convergedAfter!).toBeLessThanOrEqual(CONVERGE_WITHIN_MS);
  const status = await client.request(IndexStatusRequest);
  expect(status.documents).toBe(initial.documents + counted);
  await client.close();
});
