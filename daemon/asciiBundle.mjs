// The large bundles are started through V8's code cache (src/boot/codeCache.ts), which still reads
// and decodes the whole file on every start. Written without whitespace and comments they are a
// quarter smaller, and as pure ASCII Node decodes them several times faster and V8 keeps them as
// one-byte strings (half the memory). Shared by the daemon's and the extension's builds.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** esbuild options for a bundle started through the code cache. */
export const startedBundle = { minifyWhitespace: true };

/**
 * esbuild options for Keel's own bundles (the command, the daemon, its worker): minified whole, a
 * third smaller again, so a start reads, hashes and decodes less and V8 deserialises a smaller cache
 * (about 11 ms of the 75 ms it took to start the command's bundle; issue 14). Names of functions
 * and classes are not kept (keepNames costs more at start-up than minifying saves): nothing of
 * Keel's reads them, and the one library that does for what it sends, the openai SDK's
 * User-Agent, is given it explicitly (src/runtime/openaiHeaders.ts). The source maps next to
 * the bundles map stack traces back.
 */
export const keelBundle = { minify: true };

/**
 * esbuild options for dist/lance.js, LanceDB's JavaScript and Arrow in one bundle
 * (src/memory/store/lanceBundle.ts), next to the daemon's bundles. Only LanceDB's native library,
 * a package per platform, is loaded from node_modules.
 */
export const lanceBundle = { ...startedBundle, external: ['@lancedb/lancedb-*', '*.node'] };

/** The packages only a library bundle of their own may hold, and the code that loads it. */
const LIBRARY_BUNDLES = [
  {
    packages: /^(imapflow|mailparser|nodemailer|stripe|tsdav)(\/|$)/,
    loader: 'connectorLibraries() (src/connectors/connectorLibraries.ts, dist/connectors.js)',
  },
  { packages: /^undici(\/|$)/, loader: 'src/runtime/modelFetch.ts (dist/http.js)' },
];

/**
 * An esbuild plugin for the daemon's other bundles: fails the build where code reaches a library
 * of LIBRARY_BUNDLES other than through its loader, which would put it back into every start.
 */
export const refuseBundledLibraries = {
  name: 'refuse-bundled-libraries',
  setup(build) {
    for (const { packages, loader } of LIBRARY_BUNDLES) {
      build.onResolve({ filter: packages }, (args) => ({
        errors: [{ text: `${args.path} is loaded through ${loader}` }],
      }));
    }
  },
};

/**
 * Rewrites the few characters esbuild leaves outside ASCII (in regular expression literals) as
 * \uXXXX escapes, which mean the same there and in strings; an identity escape (`\’`) loses its
 * backslash first. A source map's columns after such a character on its line shift by a few.
 */
export function escapeToAscii(file) {
  const text = readFileSync(file, 'utf8');
  const escaped = text.replace(
    /(\\*)([\u0080-\uffff])/g,
    (_, backslashes, char) =>
      (backslashes.length % 2 === 1 ? backslashes.slice(1) : backslashes) +
      `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  writeFileSync(file, escaped);
}

/**
 * Fails the build if a bundle started through the code cache loads a package with `import()`:
 * a `node:vm` script cannot on Node 20 (see src/boot/codeCache.ts); use `require` at the call site.
 */
function checkNoDynamicImport(file) {
  const found = readFileSync(file, 'utf8').match(/\bimport\(\s*["'](?!node:)[^"']+["']\s*\)/g);
  if (found) throw new Error(`${file} loads ${found.join(', ')} with import(); use require at the call site`);
}

/**
 * The first line of a bundle started through the code cache: Node's CommonJS wrapper, written into
 * the file by `wrapForCodeCache` so that runBundle compiles the file's text as it is. Wrapping it at
 * each start (Module.wrap) made a joined string that V8 then copied whole (2.5 MB, 6.5 ms of a
 * `keel` start on this machine, where each newly touched page of memory costs about 10 us; issue 14).
 */
const CODE_CACHE_WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/**
 * Wraps a bundle for src/boot/codeCache.ts: the wrapper's line first, `})` before the source map
 * comment, and the map one line further down (a leading `;` in its mappings) so it still matches.
 */
function wrapForCodeCache(file) {
  const text = readFileSync(file, 'utf8');
  const comment = /\n\/\/# sourceMappingURL=([^\n]+)\n?$/.exec(text);
  const body = comment ? text.slice(0, comment.index) : text;
  writeFileSync(file, `${CODE_CACHE_WRAPPER}\n${body}\n})${comment ? comment[0] : '\n'}`);
  if (!comment) return;
  const mapFile = join(dirname(file), comment[1]);
  const map = JSON.parse(readFileSync(mapFile, 'utf8'));
  map.mappings = `;${map.mappings}`;
  writeFileSync(mapFile, JSON.stringify(map));
}

/**
 * What a bundle started through the code cache gets once esbuild wrote it, in the daemon's and the
 * extension's builds alike: ASCII only, no `import()`, and Node's module wrapper written in.
 */
export function finishStartedBundle(file) {
  escapeToAscii(file);
  checkNoDynamicImport(file);
  wrapForCodeCache(file);
}
