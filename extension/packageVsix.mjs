// Packages the extension as the .vsix a user installs (extension/keel-<version>.vsix).
//
// vsce lists production dependencies through npm, which fails inside an npm-workspaces tree, so the
// package is staged in a temporary folder outside it: the manifest, the bundles (extension, daemon,
// sidebar), the media, and only the native runtime packages the bundles load from node_modules.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Packages kept external by the bundles (native code); installed into the .vsix as they are. */
const NATIVE_DEPENDENCIES = ['@lancedb/lancedb', '@duckdb/node-api', 'apache-arrow'];
/**
 * Their prebuilt binaries for this machine. They are optional dependencies, and the staging
 * install omits optional ones: LanceDB's also include a transformers.js stack Keel never loads.
 */
const PLATFORM_BINARIES = [
  /^@lancedb\/lancedb-(linux|darwin|win32)-/,
  /^@duckdb\/node-bindings-(linux|darwin|win32)-/,
];

const extensionDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(extensionDir, '..');
const started = Date.now();
const manifest = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const out = join(extensionDir, `${manifest.name}-${manifest.version}.vsix`);

const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
const installed = (name) => existsSync(join(repoRoot, 'node_modules', name, 'package.json'));
const binaries = Object.keys(lock.packages)
  .map((key) => key.replace(/^node_modules\//, ''))
  .filter((name) => PLATFORM_BINARIES.some((pattern) => pattern.test(name)) && installed(name));
const dependencies = Object.fromEntries(
  [...NATIVE_DEPENDENCIES, ...binaries].map((name) => [name, lock.packages[`node_modules/${name}`].version]),
);

const stage = mkdtempSync(join(tmpdir(), 'keel-vsix-'));
try {
  for (const part of ['dist', 'media', 'README.md']) {
    cpSync(join(extensionDir, part), join(stage, part), {
      recursive: true,
      filter: (source) => !source.endsWith('.map'),
    });
  }
  const { scripts, devDependencies, private: _private, ...published } = manifest;
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ ...published, dependencies }, null, 2));
  // Everything staged belongs in the package, but source maps and type declarations.
  writeFileSync(join(stage, '.vscodeignore'), '**/*.map\n**/*.d.ts\n**/*.md\n!README.md\n');
  const vsceArgs = ['package', '--out', out, '--skip-license', '--allow-missing-repository'];
  if (NATIVE_DEPENDENCIES.length > 0) {
    execFileSync(
      'npm',
      ['install', '--omit=dev', '--omit=optional', '--workspaces=false', '--no-audit', '--no-fund'],
      {
        cwd: stage,
        stdio: 'inherit',
      },
    );
    vsceArgs.push('--target', `${process.platform}-${process.arch}`);
  } else {
    vsceArgs.push('--no-dependencies');
  }
  execFileSync(join(repoRoot, 'node_modules', '.bin', 'vsce'), vsceArgs, { cwd: stage, stdio: 'inherit' });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
const megabytes = (statSync(out).size / 1e6).toFixed(1);
console.log(`Packaged ${out} (${megabytes} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
