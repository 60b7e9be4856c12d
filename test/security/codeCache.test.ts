/**
 * V8's code cache is code: a cache file V8 accepts runs as the `keel` command. V8 itself checks
 * little (a cache made from any source of the same length passes, as the first test shows), so
 * Keel uses a cache file only when it is private to the user and carries the digest of its bundle,
 * Node and flags and of its own content. Each test plants a forged cache that would run an
 * attacker's program, runs the real `keel` command, and proves the program did not run, the command
 * still worked, and the file was replaced by a good cache.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const BUNDLE = join(REPO_ROOT, 'daemon', 'dist', 'cli.main.js');
const HEADER_BYTES = 8 + 32 + 32; // magic, key, payload digest (daemon/src/boot/codeCache.ts)

/**
 * Run by a plain `node`: compiles a program as long as the bundle (V8 compares only the length),
 * runs it once with the attack disarmed so its code is compiled into the cache, and prints V8's
 * cache of it. Armed, the program writes the marker file. Like the bundle (whose first line is
 * Node's module wrapper, written by the build), it is a function expression.
 */
const FORGE = `
const vm = require('node:vm'), fs = require('node:fs');
const [bundle, marker] = process.argv.slice(1);
const length = fs.readFileSync(bundle, 'utf8').length;
const attack = '(function () { if (!process.env.DISARMED) require("fs").writeFileSync(' + JSON.stringify(marker) + ', "ran"); })//';
const source = attack + ' '.repeat(length - attack.length);
const script = new vm.Script(source, { filename: bundle });
process.env.DISARMED = '1';
script.runInThisContext()({}, require, {}, bundle, '');
process.stdout.write(script.createCachedData().toString('base64'));
`;

/** Hands the forged payload to V8 for the real bundle, as a loader without Keel's checks would. */
const ACCEPT = `
const vm = require('node:vm'), fs = require('node:fs');
const [bundle, payload] = process.argv.slice(1);
const script = new vm.Script(fs.readFileSync(bundle, 'utf8'), {
  filename: bundle, cachedData: fs.readFileSync(payload),
});
if (!script.cachedDataRejected) script.runInThisContext()({}, require, {}, bundle, '');
`;

let dirs: TempDirs;
let cacheDir: string;
let marker: string;
let forged: Buffer;

beforeEach(async () => {
  dirs = await makeTempDirs();
  cacheDir = join(dirs.workspace, '..', 'cache');
  marker = join(dirs.workspace, '..', 'attack-ran');
  forged = Buffer.from(
    execFileSync(process.execPath, ['-e', FORGE, BUNDLE, marker], { encoding: 'utf8' }),
    'base64',
  );
});

afterEach(async () => {
  await dirs.cleanup();
});

/** `keel --version` with the cache in `cacheDir`; answers what the loader reported. */
async function keelVersion(): Promise<{ report: string; stdout: string; code: number | null }> {
  const result = await runKeel(['--version'], {
    runtime: dirs.runtime,
    env: { KEEL_CACHE_DIR: cacheDir, KEEL_CODE_CACHE: 'report' },
  });
  return { report: result.stderr, stdout: result.stdout.trim(), code: result.code };
}

/** The cache file of the bundle, made by a first run: its path and its genuine key. */
async function genuineCache(): Promise<{ file: string; key: Buffer }> {
  const first = await keelVersion();
  expect(first.report).toMatch(/missing[\s\S]*saved/);
  const [name] = (await readdir(cacheDir)).filter((n) => n.endsWith('.v8cache'));
  const file = join(cacheDir, name!);
  const key = (await readFile(file)).subarray(8, 40);
  return { file, key };
}

function cacheFile(key: Buffer, payload: Buffer, digestOf: Buffer = payload): Buffer {
  const digest = createHash('sha256').update(digestOf).digest();
  return Buffer.concat([Buffer.from('KEELV8C1'), key, digest, payload]);
}

/** The planted file was not run, the command answered, and a good cache replaced the forgery. */
async function expectRefused(file: string, reason: RegExp): Promise<void> {
  const run = await keelVersion();
  expect(run.code).toBe(0);
  expect(run.stdout).toBe('0.1.0');
  expect(run.report).toMatch(reason);
  expect(existsSync(marker)).toBe(false);
  const replaced = await readFile(file);
  expect(replaced.subarray(HEADER_BYTES).equals(forged)).toBe(false);
  expect((await keelVersion()).report).toMatch(/: used/);
}

describe('the code cache', () => {
  it('is a real attack surface: V8 alone runs a forged cache made from another program', async () => {
    const payload = join(dirs.workspace, '..', 'forged.bin');
    await writeFile(payload, forged);
    execFileSync(process.execPath, ['-e', ACCEPT, BUNDLE, payload]);
    expect(await readFile(marker, 'utf8')).toBe('ran');
  });

  it('is kept private: a 0700 folder of the user, a 0600 file, used by the next start', async () => {
    const { file } = await genuineCache();
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await keelVersion()).report).toMatch(/: used/);
  });

  it('keeps a cache per subcommand, each written by its own first start', async () => {
    await genuineCache(); // `keel --version`: no subcommand
    const initHelp = async (): Promise<string> => {
      const run = await runKeel(['init', '--help'], {
        runtime: dirs.runtime,
        env: { KEEL_CACHE_DIR: cacheDir, KEEL_CODE_CACHE: 'report' },
      });
      expect(run.code, run.stderr).toBe(0);
      return run.stderr;
    };
    expect(await initHelp()).toMatch(/cli\.main\.js-[0-9a-f]{16}-init\.v8cache: missing[\s\S]*saved/);
    expect(await initHelp()).toMatch(/-init\.v8cache: used/);
    expect((await keelVersion()).report).toMatch(/cli\.main\.js-[0-9a-f]{16}\.v8cache: used/);
  });

  it('refuses a cache whose content was changed after it was written', async () => {
    const { file, key } = await genuineCache();
    const genuine = (await readFile(file)).subarray(HEADER_BYTES);
    await writeFile(file, cacheFile(key, forged, genuine), { mode: 0o600 });
    await expectRefused(file, /does not match its digest/);
  });

  it('refuses a cache made for another bundle or Node', async () => {
    const { file } = await genuineCache();
    const foreignKey = createHash('sha256').update('another build of keel').digest();
    await writeFile(file, cacheFile(foreignKey, forged), { mode: 0o600 });
    await expectRefused(file, /made for another bundle or Node/);
  });

  it('refuses a well-formed cache that others could have written', async () => {
    const { file, key } = await genuineCache();
    await writeFile(file, cacheFile(key, forged));
    await chmod(file, 0o666);
    await expectRefused(file, /others may write it/);
  });

  it('refuses a cache file that is a link to a file elsewhere', async () => {
    const { file, key } = await genuineCache();
    const elsewhere = join(dirs.workspace, 'planted.v8cache');
    await writeFile(elsewhere, cacheFile(key, forged), { mode: 0o600 });
    await rm(file);
    await symlink(elsewhere, file);
    await expectRefused(file, /missing/);
    expect((await readFile(elsewhere)).subarray(HEADER_BYTES).equals(forged)).toBe(true);
  });

  it('refuses a changed cache of the LanceDB bundle the memory index loads (dist/lance.js)', async () => {
    const lanceBundle = join(REPO_ROOT, 'daemon', 'dist', 'lance.js');
    const forgedLance = Buffer.from(
      execFileSync(process.execPath, ['-e', FORGE, lanceBundle, marker], { encoding: 'utf8' }),
      'base64',
    );
    await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
    await mkdir(join(dirs.workspace, 'memory'), { recursive: true });
    await writeFile(
      join(dirs.workspace, 'memory', 'acme.md'),
      '# Acme\n\nThe Acme renewal is due in March.\n',
    );
    const search = (): ReturnType<typeof runKeel> =>
      runKeel(['search', 'Acme renewal'], {
        cwd: dirs.workspace,
        runtime: dirs.runtime,
        env: { KEEL_CACHE_DIR: cacheDir, KEEL_CODE_CACHE: 'report' },
      });
    expect((await search()).stderr).toMatch(/lance\.js-[0-9a-f]+\.v8cache: missing/);
    const [name] = (await readdir(cacheDir)).filter((n) => n.startsWith('lance.js-'));
    const file = join(cacheDir, name!);
    const genuine = await readFile(file);
    await writeFile(file, cacheFile(genuine.subarray(8, 40), forgedLance, genuine.subarray(HEADER_BYTES)), {
      mode: 0o600,
    });
    const run = await search();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('memory/acme.md');
    expect(run.stderr).toMatch(
      /lance\.js-[0-9a-f]+\.v8cache: ignored: its content does not match its digest/,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('does not grow without end: files unused for 30 days go when one is written, one in use stays', async () => {
    const DAY = 24 * 60 * 60;
    const now = Date.now() / 1000;
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    const unused = join(cacheDir, 'keeld.main.js-00000000000000aa.v8cache');
    const leftover = join(cacheDir, 'lance.js-00000000000000bb.v8cache.4242.tmp');
    const recent = join(cacheDir, 'lance.js-00000000000000cc.v8cache');
    const elsewhere = join(dirs.workspace, 'planted.v8cache');
    const link = join(cacheDir, 'keeld.main.js-00000000000000dd.v8cache');
    for (const file of [unused, leftover, recent, elsewhere]) await writeFile(file, 'x', { mode: 0o600 });
    await symlink(elsewhere, link);
    for (const file of [unused, leftover, elsewhere]) await utimes(file, now - 60 * DAY, now - 60 * DAY);
    await lutimes(link, now - 60 * DAY, now - 60 * DAY);
    await utimes(recent, now - 5 * DAY, now - 5 * DAY);

    const { file } = await genuineCache();
    expect(existsSync(unused)).toBe(false);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    // A link is not a cache file of Keel's: neither it nor what it points to is removed.
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(existsSync(elsewhere)).toBe(true);

    // The cache a start uses is marked as used, so the next prune keeps it.
    await utimes(file, now - 40 * DAY, now - 40 * DAY);
    expect((await keelVersion()).report).toMatch(/: used/);
    expect(Date.now() - (await stat(file)).mtimeMs).toBeLessThan(60_000);
  });

  it('does not read a file larger than a cache can be, and replaces it', async () => {
    const { file } = await genuineCache();
    await truncate(file, 65 * 1024 * 1024); // sparse: a planted giant costs no disk here
    const run = await keelVersion();
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('0.1.0');
    expect(run.report).toMatch(/ignored: larger than a code cache[\s\S]*saved/);
    expect((await stat(file)).size).toBeLessThan(16 * 1024 * 1024);
    expect((await keelVersion()).report).toMatch(/: used/);
  });

  it('never stops the command: an unusable cache folder only means no cache', async () => {
    await mkdir(join(dirs.workspace, '..'), { recursive: true });
    await writeFile(cacheDir, 'not a folder');
    const run = await keelVersion();
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('0.1.0');
    expect(run.report).toMatch(/: off/);
  });
});
