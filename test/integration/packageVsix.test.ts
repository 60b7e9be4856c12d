/**
 * The .vsix a user installs holds what ships and nothing else: the manifest, the docs, the icon and
 * media, the bundles, and the native runtime packages (LanceDB, DuckDB, Arrow and what they need)
 * with the target's binaries only; no source maps, sources, type declarations or other platforms'
 * binaries. And it stays within its size budget. Runs the real packager (npm and vsce), so it needs
 * the bundles (`npm run build`) and the npm registry or cache.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..');
const PACKAGER = join(REPO, 'extension', 'packageVsix.mjs');
/** Measured at 99.1 MB (linux-x64, December 2026; the LanceDB binary is 160 MB of it unpacked): about 20% above. */
const BUDGET_BYTES = 120e6;
const RUNTIME = ['@duckdb/node-api'];
const LINUX_X64_BINARIES = ['@lancedb/lancedb-linux-x64-gnu', '@duckdb/node-bindings-linux-x64'];
/** Everything outside node_modules that ships. */
const SHIPPED = [
  /^package\.json$/,
  /^README\.md$/,
  /^CHANGELOG\.md$/,
  /^LICENSE$/,
  /^media\/(icon\.png|keel\.svg|sidebar\.css|dashboard\.css|timeline\.css|inbox\.css)$/,
  /^media\/walkthrough\/(open-demo|trust|model|run|approve)\.md$/,
  /^dist\/(extension|keeld|keeld\.main|worker|lance|connectors|http)\.js$/,
  /^dist\/webview\/(sidebar|dashboard|timeline|inbox)\.js$/,
  /^dist\/runbook(Test)?\.schema\.json$/,
  /^dist\/keel-static-v1\.glove100k\.bin$/,
];

let folder: string;
let listing: string[];
let vsixBytes: number;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'keel-vsix-test-'));
  const out = join(folder, 'keel.vsix');
  const list = join(folder, 'ls.txt');
  await run(process.execPath, [PACKAGER, '--target', 'linux-x64', '--out', out, '--ls', list], {
    maxBuffer: 64 * 1024 * 1024,
  });
  listing = (await readFile(list, 'utf8')).split('\n').filter((line) => line !== '');
  vsixBytes = (await stat(out)).size;
}, 300_000);
afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** The packages `names` need at run time, by package-lock.json (dependencies, not dev or optional). */
async function runtimeClosure(names: string[]): Promise<Set<string>> {
  const lock = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dependency of Object.keys(lock.packages[`node_modules/${name}`]?.dependencies ?? {})) {
      visit(dependency);
    }
  };
  names.forEach(visit);
  return seen;
}

const packageOf = (path: string): string => {
  const [, first, second] = path.split('/');
  return first!.startsWith('@') ? `${first}/${second}` : first!;
};

describe('the packaged .vsix (linux-x64)', () => {
  it('ships the manifest, docs, icon, media and bundles, and nothing else outside node_modules', () => {
    const own = listing.filter((path) => !path.startsWith('node_modules/'));
    expect(own.filter((path) => !SHIPPED.some((pattern) => pattern.test(path)))).toEqual([]);
    for (const needed of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      'media/icon.png',
      'media/walkthrough/trust.md',
    ]) {
      expect(own).toContain(needed);
    }
    expect(own).toContain('dist/extension.js');
    expect(own).toContain('dist/keeld.main.js');
    expect(own).toContain('dist/lance.js');
    expect(own).toContain('dist/connectors.js');
    expect(own).toContain('dist/http.js');
  });

  it('ships only the native runtime packages, with linux-x64 binaries and no other platform', async () => {
    const allowed = await runtimeClosure([...RUNTIME, ...LINUX_X64_BINARIES]);
    const packages = new Set(listing.filter((path) => path.startsWith('node_modules/')).map(packageOf));
    expect([...packages].filter((name) => !allowed.has(name))).toEqual([]);
    for (const needed of [...RUNTIME, ...LINUX_X64_BINARIES]) expect(packages).toContain(needed);
    const binaries = [...packages].filter((name) => /^@(lancedb\/lancedb|duckdb\/node-bindings)-/.test(name));
    expect(binaries.sort()).toEqual([...LINUX_X64_BINARIES].sort());
    expect([...packages].filter((name) => name.startsWith('@types/') || name === 'undici-types')).toEqual([]);
  });

  it('ships no source maps, TypeScript sources or type declarations', () => {
    expect(listing.filter((path) => /\.(map|ts|mts|cts)$/.test(path))).toEqual([]);
  });

  it('stays within its size budget', () => {
    console.info(`keel .vsix for linux-x64: ${(vsixBytes / 1e6).toFixed(1)} MB`);
    expect(vsixBytes).toBeLessThan(BUDGET_BYTES);
  });

  it('has a 128x128 PNG icon, named in its manifest', async () => {
    const manifest = JSON.parse(await readFile(join(REPO, 'extension', 'package.json'), 'utf8')) as {
      icon?: string;
    };
    expect(manifest.icon).toBe('media/icon.png');
    const png = await readFile(join(REPO, 'extension', manifest.icon!));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([128, 128]);
  });
});

it('refuses a target LanceDB and DuckDB publish no native build for, naming those it can build', async () => {
  const failed = await run(process.execPath, [PACKAGER, '--target', 'darwin-x64']).then(
    () => null,
    (error: { code: number; stderr: string }) => error,
  );
  expect(failed?.code).toBe(1);
  expect(failed?.stderr).toMatch(
    /no package for target "darwin-x64".*linux-x64, linux-arm64, .*darwin-arm64/s,
  );
});
