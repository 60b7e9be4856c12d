/**
 * Damage to the index of a running daemon heals by itself: a truncated full-text index or data
 * file, a DuckDB catalog with a corrupt block, a read-only LanceDB folder, a deleted LanceDB folder
 * or DuckDB WAL. Searches keep answering while it heals, the status says what was damaged and what
 * was done, and the notes are found again. A full disk is a problem in the status, and the notes
 * saved meanwhile become searchable once space returns, without another save.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFile, chmod, mkdir, open, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IndexStatusRequest, MemorySearchRequest, type IndexStatus } from '@keel/schemas';
import { Journal } from '../../daemon/src/conductor/journal';
import { SocketClient } from '../../daemon/src/rpc/socketClient';
import { StateSeal } from '../../daemon/src/runtime/stateKey';
import { runRecord } from '../helpers/journals';
import { writeCompany, writeNote } from '../helpers/memory';
import { CLI, keelEnv, runKeel, waitFor, type RunningDaemon } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let daemon: RunningDaemon | null = null;
let client: SocketClient | null = null;
let mounted: string | null = null;

const isRoot = process.getuid?.() === 0;
const HEAL_MS = 20_000;

beforeEach(async () => {
  dirs = await makeTempDirs();
});
afterEach(async () => {
  await stopDaemon('SIGTERM');
  if (mounted) spawnSync('umount', ['-l', mounted]);
  mounted = null;
  await dirs.cleanup();
});

const keel = (...parts: string[]): string => join(dirs.workspace, '.keel', ...parts);

/**
 * `keel daemon` as the operator runs it. Root ignores file modes, so as root the daemon is started
 * without the capabilities that bypass them: a read-only folder is then read-only to it too.
 */
async function startDaemon(): Promise<void> {
  const command = isRoot ? 'setpriv' : process.execPath;
  const args = [CLI, 'daemon', '--workspace', dirs.workspace];
  const child = spawn(
    command,
    isRoot
      ? [
          '--bounding-set',
          '-dac_override,-dac_read_search,-fowner,-linux_immutable',
          process.execPath,
          ...args,
        ]
      : args,
    { env: keelEnv(dirs.runtime), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Keel daemon serving')) resolve();
    });
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before serving:\n${stderr}`)));
  });
  daemon = { process: child, pid: child.pid!, output: () => stderr, exited };
  const lock = JSON.parse(await readFile(keel('daemon.lock'), 'utf8')) as {
    socketPath: string;
    tokenPath: string;
  };
  client = await SocketClient.connectAndAuthenticate(
    lock.socketPath,
    (await readFile(lock.tokenPath, 'utf8')).trim(),
    'test',
  );
}

async function stopDaemon(signal: NodeJS.Signals): Promise<void> {
  await client?.close().catch(() => undefined);
  client = null;
  if (daemon && daemon.process.exitCode === null) {
    daemon.process.kill(signal);
    await daemon.exited;
  }
  daemon = null;
}

/** A workspace with the company's notes, indexed by a running daemon. */
async function indexedWorkspace(): Promise<void> {
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  await writeCompany(dirs.workspace);
  await startDaemon();
  await waitFor('the initial index', async () => {
    const s = await status();
    return s.documents === 5 && s.state === 'ready' && (await lanceFiles('_invert.lance')).length > 0;
  });
}

const status = (): Promise<IndexStatus> => client!.request(IndexStatusRequest);

/** The top note for `query`; a search that fails is an answer too, as long as the daemon answers. */
async function topPath(query: string): Promise<string | Error> {
  try {
    const { results } = await client!.request(MemorySearchRequest, { query, k: 3 });
    return results[0]?.path ?? new Error('no results');
  } catch (error) {
    expect(daemon!.process.exitCode).toBeNull();
    return error as Error;
  }
}

async function lanceFiles(suffix: string): Promise<string[]> {
  const entries = await readdir(keel('lance'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => join(e.parentPath, e.name));
}

const mainInvertFiles = async (): Promise<string[]> =>
  (await lanceFiles('_invert.lance')).filter((f) => f.includes('/chunks.lance/'));

/**
 * Waits until the status reports a recovery matching `what` and a search for Acme finds it again;
 * every search on the way gets an answer. Returns how long healing took.
 */
async function expectHealed(what: RegExp): Promise<number> {
  const started = Date.now();
  let last: IndexStatus | null = null;
  let lastSearch: string | Error = '';
  await waitFor(
    `a recovery matching ${what}`,
    async () => {
      lastSearch = await topPath('Acme renewal pricing');
      last = await status();
      return lastSearch === 'memory/customers/acme.md' && last.recovery !== null && what.test(last.recovery);
    },
    HEAL_MS,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}\nlast search: ${String(lastSearch)}\nlast status: ${JSON.stringify(last)}`,
    );
  });
  expect(last!.recovery).toMatch(/moved|rebuilt|rebuilding/);
  return Date.now() - started;
}

describe('a running daemon heals its index', () => {
  it('when a full-text index file is truncated', async () => {
    await indexedWorkspace();
    // The main table's index: new notes wait in a small table of their own until writes pause.
    await waitFor("the main table's full-text index", async () => (await mainInvertFiles()).length > 0);
    for (const file of await mainInvertFiles()) await truncate(file, 100);
    const took = await expectHealed(/search index \(LanceDB\) is damaged/);
    console.info(`healed a truncated full-text index in ${took} ms`);
  });

  it('when a data file is truncated while it runs', async () => {
    await indexedWorkspace();
    const data = (await lanceFiles('.lance')).filter((f) => f.includes('/data/'));
    expect(data.length).toBeGreaterThan(0);
    for (const file of data) await truncate(file, 16);
    const took = await expectHealed(/search index \(LanceDB\) is damaged/);
    console.info(`healed a truncated data file in ${took} ms`);
  });

  it('when DuckDB has a corrupt block in the middle of the file', async () => {
    await indexedWorkspace();
    await stopDaemon('SIGTERM');
    const file = keel('keel.duckdb');
    const { size } = await stat(file);
    const handle = await open(file, 'r+');
    // One data block in the middle (the third of 256 KiB, past the three 4 KiB headers): the file
    // opens, and that block fails its checksum when it is read.
    expect(size).toBeGreaterThan(12_288 + 3 * 262_144);
    await handle.write(Buffer.alloc(4000, 0x5a), 0, 4000, 12_288 + 2 * 262_144 + 8);
    await handle.close();
    await startDaemon();
    const took = await expectHealed(/catalog \(DuckDB\)/);
    console.info(`healed a corrupt DuckDB block in ${took} ms`);
  });

  it('when its LanceDB folder becomes read-only', async () => {
    await indexedWorkspace();
    await chmodTree(keel('lance'), 0o555, 0o444);
    await writeNote(dirs.workspace, 'memory/customers/globex.md', '# Globex\n\nGlobex buys quokka feed.\n');
    const took = await expectHealed(/permission|read-only|EACCES/i);
    await waitFor(
      'the new note',
      async () => (await topPath('quokka feed')) === 'memory/customers/globex.md',
      HEAL_MS,
    );
    console.info(`healed a read-only LanceDB folder in ${took} ms`);
  });

  it('when its LanceDB folder is deleted while it is stopped, and says so', async () => {
    await indexedWorkspace();
    await stopDaemon('SIGTERM');
    await rm(keel('lance'), { recursive: true, force: true });
    await startDaemon();
    await writeNote(dirs.workspace, 'memory/customers/globex.md', '# Globex\n\nGlobex buys quokka feed.\n');
    const took = await expectHealed(/search index \(LanceDB\) held 0/);
    await waitFor(
      'the new note',
      async () => (await topPath('quokka feed')) === 'memory/customers/globex.md',
      HEAL_MS,
    );
    console.info(`healed a deleted LanceDB folder in ${took} ms`);
  });

  it('when the DuckDB write-ahead log is lost, and says so', async () => {
    await indexedWorkspace();
    await stopDaemon('SIGKILL');
    expect((await stat(keel('keel.duckdb.wal'))).size).toBeGreaterThan(0);
    await rm(keel('keel.duckdb.wal'));
    await startDaemon();
    const took = await expectHealed(/write-ahead log/);
    await waitFor('every note counted', async () => (await status()).documents === 5, HEAL_MS);
    console.info(`rebuilt after a lost WAL in ${took} ms`);
  });
});

describe('a full disk', () => {
  // Needs a real small file system: mounting a tmpfs takes root. As another user this test is
  // skipped (run it as root, or in a container, to cover it).
  it.skipIf(!isRoot)(
    'is a problem in the status, and heals without a new save when space returns',
    async () => {
      await mkdir(keel(), { recursive: true });
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', keel()]);
      expect(mount.status, mount.stderr.toString()).toBe(0);
      mounted = keel();
      await indexedWorkspace();

      const filler = keel('filler');
      await fill(filler);
      const saved = Array.from({ length: 20 }, (_, i) => `memory/full/note-${i}.md`);
      for (const [i, path] of saved.entries()) {
        await writeNote(dirs.workspace, path, `# Wombat ${i}\n\nWombat number ${i} eats zebrafruit${i}.\n`);
      }
      const full = await waitFor(
        'the full disk in the status',
        async () => {
          const s = await status();
          return s.problems.find((p) => /no space left|ENOSPC|disk is full/i.test(p.message)) ? s : null;
        },
        HEAL_MS,
      );
      expect(full.pending).toBeGreaterThan(0);
      expect(daemon!.process.exitCode).toBeNull();

      const freed = Date.now();
      await rm(filler);
      await waitFor(
        'every note saved while the disk was full',
        async () => {
          for (const [i, path] of saved.entries()) {
            const { results } = await client!.request(MemorySearchRequest, { query: `zebrafruit${i}`, k: 1 });
            if (results[0]?.path !== path) return false;
          }
          return true;
        },
        45_000,
      );
      const after = await status();
      expect(after.problems.filter((p) => /no space left|ENOSPC/i.test(p.message))).toEqual([]);
      console.info(`notes searchable ${Date.now() - freed} ms after space returned`);
    },
  );
});

describe('a run refused by a full disk', () => {
  // A real small file system, as above: root only.
  it.skipIf(!isRoot)('leaves no file handle open and no journal behind', async () => {
    const runs = join(dirs.workspace, 'runs');
    await mkdir(runs, { recursive: true });
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', runs]);
    expect(mount.status, mount.stderr.toString()).toBe(0);
    mounted = runs;
    await fill(join(runs, 'filler'));
    const openFiles = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let i = 0; i < 5; i++) {
      const record = runRecord(`hello-${i}`);
      await expect(
        Journal.create(join(runs, `hello-${i}.jsonl`), record, new StateSeal(dirs.workspace)),
      ).rejects.toThrow(/ENOSPC|no space/i);
    }
    expect(await openFiles()).toBe(before);
    expect((await readdir(runs)).filter((name) => name.endsWith('.jsonl'))).toEqual([]);
  });
});

async function chmodTree(dir: string, dirMode: number, fileMode: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isDirectory()) await chmodTree(path, dirMode, fileMode);
    else await chmod(path, fileMode);
  }
  await chmod(dir, dirMode);
}

/** Writes into `file` until the file system is full. */
async function fill(file: string): Promise<void> {
  const block = Buffer.alloc(256 * 1024, 1);
  for (;;) {
    try {
      await appendFile(file, block);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return;
      throw error;
    }
  }
}
