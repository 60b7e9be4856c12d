/**
 * Starts one of Keel's bundles (dist/cli.main.js, dist/keeld.main.js, dist/lance.js when the index
 * opens, dist/connectors.js when a connector first needs its library) with V8's code cache, so a
 * start does not parse and compile megabytes of JavaScript again (about 150-250 ms of `keel run`'s
 * start-up and the daemon's restart when the bundles were 7 MB; issue 14). Node 20 has no
 * `module.enableCompileCache` (22.1+), and `v8-compile-cache` caches each `require`d file, not a
 * bundle compiled as one script, so this module does it with `node:vm`'s `Script` and `cachedData`.
 *
 * The cache is code V8 runs, so it is trusted only as far as its place is: it lives in the per-user
 * cache directory (`userCacheDir()`, 0700, never in a workspace), and a file is used only if it is
 * a regular file of this user that no one else may write, names the exact bundle (its SHA-256), Node
 * and V8 version and flags it was made for, and its payload matches the digest in its header; then
 * V8 checks it again (`cachedDataRejected`). Anything else is ignored and rebuilt: the cache is never
 * needed, so no failure here stops Keel. `KEEL_CODE_CACHE=off` turns it off; `=report` prints what
 * happened to stderr.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  futimesSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { readFully } from '../files/readFully';
import { userCacheDir } from '../runtime/paths';

/** Keel's caches are a few MB: a larger file is not one, and is not read (or made room for). */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/** File layout: magic, SHA-256 key (bundle + runtime), SHA-256 of the payload, V8's payload. */
const MAGIC = Buffer.from('KEELV8C1');
const HEADER_BYTES = MAGIC.length + 32 + 32;

/**
 * A process that runs longer than this without exiting (the daemon) writes its cache then; a
 * command writes it when it exits. Late enough that the functions a start runs are compiled in it.
 */
const SAVE_AFTER_MS = 10_000;

/**
 * A cache file is kept per installed copy of a bundle, and copies come and go (each update of the
 * extension installs into a folder of its own): a cache file not used for this long is removed when
 * another is written. One in use is touched at most once a day, so it stays.
 */
const UNUSED_FOR_MS = 30 * 24 * 60 * 60 * 1000;
const TOUCH_AFTER_MS = 24 * 60 * 60 * 1000;

type BundleFunction = (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => void;

/**
 * What a library bundle the build puts next to this one exports (`name`: dist/lance.js,
 * dist/connectors.js, dist/http.js), started through the code cache; run from the sources (tests,
 * tsx) there is none, and `fromSources` loads the libraries from node_modules instead.
 */
export function runBundleBeside<T>(name: string, fromSources: () => T): T {
  const bundle = join(__dirname, name);
  return existsSync(bundle) ? (runBundle(bundle) as T) : fromSources();
}

/**
 * Runs the CommonJS bundle at `bundlePath` as `require` would, compiled from the cache if it can,
 * and returns what it exports. The build writes Node's module wrapper into the bundle (its first
 * line, asciiBundle.mjs), so the file's text is compiled as it is.
 * @param use what the bundle is started for (the `keel` command's subcommand), when starts differ
 *   in the code they run: each gets a cache of its own. A cache holds the code the start that
 *   wrote it had compiled, and is written once: one written by `keel --version` left `keel run`
 *   compiling the rest at every start (about 9 ms more to its first step).
 */
export function runBundle(bundlePath: string, use = ''): unknown {
  const mode = process.env.KEEL_CODE_CACHE;
  const file = mode === 'off' ? null : cacheFileOf(bundlePath, use);
  // One buffer holds the bundle, then, once its text is decoded, the cache: memory a process
  // touches for the first time is dear (about 10 us a 4 KiB page on this machine; a 2 MB cache
  // read into a buffer of its own cost 6.5 ms of each start; issue 14).
  const { bytes, room } = readWithRoom(bundlePath, file ? sizeOf(file) : 0);
  const cache = file ? { file, key: cacheKey(bytes) } : null;
  const source = bytes.toString('utf8');
  const found = cache ? readCache(cache.file, cache.key, room) : { data: undefined, outcome: 'off' };
  const script = new Script(source, {
    filename: bundlePath,
    cachedData: found.data,
    // No `importModuleDynamically`: Node 20 has it only behind a flag or as an experiment that
    // warns on stderr, so the bundles load their lazy modules with `require` (esbuild.mjs checks).
  });
  let outcome = found.outcome;
  if (found.data && script.cachedDataRejected) outcome = 'ignored: V8 rejected it';
  if (mode === 'report') process.stderr.write(`keel: code cache ${cache?.file ?? ''}: ${outcome}\n`);
  if (cache && outcome !== 'used') saveLater(script, cache.file, cache.key, mode === 'report');

  const run: unknown = script.runInThisContext();
  if (typeof run !== 'function') {
    throw new Error(`${bundlePath} is not a bundle Keel's build wrote; run "npm run build" again.`);
  }
  const module = new Module(bundlePath);
  module.filename = bundlePath;
  (run as BundleFunction).call(
    module.exports,
    module.exports,
    createRequire(bundlePath),
    module,
    bundlePath,
    dirname(bundlePath),
  );
  return module.exports;
}

/**
 * The cache file of this bundle (one per installed copy, and per `use` when one is given), or null
 * without a cache directory.
 */
function cacheFileOf(bundlePath: string, use: string): string | null {
  let dir: string;
  try {
    dir = userCacheDir();
  } catch {
    return null; // No private cache directory (a read-only home): start without the cache.
  }
  const place = createHash('sha256').update(bundlePath).digest('hex').slice(0, 16);
  const variant = /^[a-z][a-z0-9-]{0,31}$/.test(use) ? `-${use}` : '';
  return join(dir, `${basename(bundlePath)}-${place}${variant}.v8cache`);
}

/** The cache file's size, 0 if it is missing or larger than a cache can be (readCache checks the rest). */
function sizeOf(file: string): number {
  try {
    const { size } = lstatSync(file);
    return size <= MAX_CACHE_BYTES ? size : 0;
  } catch {
    return 0;
  }
}

/** The file's bytes (`bytes`), at the start of a buffer (`room`) of at least `atLeast` bytes. */
function readWithRoom(path: string, atLeast: number): { bytes: Buffer; room: Buffer } {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.allocUnsafeSlow(Math.max(size, atLeast));
    return { bytes: readInto(fd, buffer.subarray(0, size)), room: buffer };
  } finally {
    closeSync(fd);
  }
}

/** What the compiled code depends on: the bundle's bytes, Node and V8, and the flags V8 runs with. */
export function cacheKey(bundle: Buffer): Buffer {
  return createHash('sha256')
    .update(createHash('sha256').update(bundle).digest())
    .update(
      [
        process.version,
        process.versions.v8,
        process.arch,
        process.execArgv.join(' '),
        process.env.NODE_OPTIONS ?? '',
      ].join('\0'),
    )
    .digest();
}

/**
 * The cached payload if the file is private to this user, made for this key, and intact; read into
 * `room` when it fits.
 */
function readCache(file: string, key: Buffer, room: Buffer): { data: Buffer | undefined; outcome: string } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return { data: undefined, outcome: 'missing' };
  }
  try {
    const stat = fstatSync(fd);
    const uid = process.getuid?.();
    if (!stat.isFile()) return { data: undefined, outcome: 'ignored: not a regular file' };
    if (uid !== undefined && stat.uid !== uid) return { data: undefined, outcome: 'ignored: another owner' };
    if ((stat.mode & 0o022) !== 0) return { data: undefined, outcome: 'ignored: others may write it' };
    if (stat.size > MAX_CACHE_BYTES) return { data: undefined, outcome: 'ignored: larger than a code cache' };
    const content = stat.size <= room.length ? readInto(fd, room.subarray(0, stat.size)) : readFileSync(fd);
    if (content.length <= HEADER_BYTES || !content.subarray(0, MAGIC.length).equals(MAGIC)) {
      return { data: undefined, outcome: 'ignored: not a Keel code cache' };
    }
    const payload = content.subarray(HEADER_BYTES);
    if (!content.subarray(MAGIC.length, MAGIC.length + 32).equals(key)) {
      return { data: undefined, outcome: 'ignored: made for another bundle or Node' };
    }
    const digest = createHash('sha256').update(payload).digest();
    if (!content.subarray(MAGIC.length + 32, HEADER_BYTES).equals(digest)) {
      return { data: undefined, outcome: 'ignored: its content does not match its digest' };
    }
    if (Date.now() - stat.mtimeMs > TOUCH_AFTER_MS) touch(fd);
    return { data: payload, outcome: 'used' };
  } catch {
    return { data: undefined, outcome: 'ignored: unreadable' };
  } finally {
    closeSync(fd);
  }
}

/** Fills `buffer` from the start of the file; what it read (less if the file is shorter now). */
function readInto(fd: number, buffer: Buffer): Buffer {
  return buffer.subarray(0, readFully(fd, buffer));
}

/**
 * Writes the cache once, at exit or after SAVE_AFTER_MS, whichever comes first: by then the code
 * the start ran is compiled too, so the cache holds it. Written to a private temporary file and
 * renamed over the old one, so a reader sees a whole file or none.
 */
function saveLater(script: Script, file: string, key: Buffer, report: boolean): void {
  let saved = false;
  const save = (): void => {
    if (saved) return;
    saved = true;
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      const payload = script.createCachedData();
      const digest = createHash('sha256').update(payload).digest();
      writeFileSync(temporary, Buffer.concat([MAGIC, key, digest, payload]), { mode: 0o600, flag: 'wx' });
      renameSync(temporary, file);
      if (report) process.stderr.write(`keel: code cache ${file}: saved\n`);
    } catch {
      // Not writable now (a full disk): the next start compiles without it and tries again.
      try {
        rmSync(temporary, { force: true });
      } catch {
        // Nothing to clean up.
      }
    }
    pruneUnused(dirname(file), report);
  };
  process.once('exit', save);
  setTimeout(save, SAVE_AFTER_MS).unref();
}

/** Marks a cache file as in use (its modification time): not one for pruneUnused to remove. */
function touch(fd: number): void {
  try {
    const now = new Date();
    futimesSync(fd, now, now);
  } catch {
    // A read-only cache folder: the file is still good to use.
  }
}

/**
 * Removes the cache files (and temporary files a killed process left) of `dir` not used for
 * UNUSED_FOR_MS: regular files of this user only, never what a link points to.
 */
function pruneUnused(dir: string, report: boolean): void {
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/\.v8cache(\.\d+\.tmp)?$/.test(name)) continue;
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isFile() || (uid !== undefined && stat.uid !== uid)) continue;
      if (Date.now() - stat.mtimeMs <= UNUSED_FOR_MS) continue;
      rmSync(path);
      if (report) process.stderr.write(`keel: code cache ${path}: removed, unused for 30 days\n`);
    } catch {
      // Gone meanwhile (another process pruned it), or not removable: left as it is.
    }
  }
}
