// Packages the extension as the .vsix a user installs: one package per platform, since LanceDB and
// DuckDB are native. Usage:
//
//   node extension/packageVsix.mjs                       # this machine's platform, extension/keel-<version>.vsix
//   node extension/packageVsix.mjs --target darwin-arm64 # extension/keel-<version>-darwin-arm64.vsix
//   node extension/packageVsix.mjs --out FILE --ls LIST  # LIST: what ships, one path a line (vsce ls)
//   node extension/packageVsix.mjs --repository URL      # README screenshots from URL (GitHub, GitLab)
//
// vsce lists production dependencies through npm, which fails inside an npm-workspaces tree, so the
// package is staged in a temporary folder outside it: the manifest, the bundles (extension, daemon,
// webviews), the media, README, CHANGELOG and LICENSE, and only the native runtime packages the
// bundles load from node_modules, with the target's prebuilt binaries (from the npm registry).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { NATIVE_DEPENDENCIES, TARGETS, currentTarget, readmeLinks } from './vsixTargets.mjs';

const { values: options } = parseArgs({
  options: {
    target: { type: 'string' },
    out: { type: 'string' },
    ls: { type: 'string' },
    repository: { type: 'string' },
  },
});
const extensionDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(extensionDir, '..');
const started = Date.now();
const manifest = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const target = options.target ?? currentTarget();
const platform = TARGETS[target];
if (!platform) {
  console.error(
    `packageVsix: no package for target "${target}": LanceDB and DuckDB publish native builds for ` +
      `${Object.keys(TARGETS).join(', ')} only. Pass one of them with --target.`,
  );
  process.exit(1);
}
// The machine's own package keeps the plain name the end-to-end tests and the README install.
const defaultName =
  options.target === undefined
    ? `${manifest.name}-${manifest.version}.vsix`
    : `${manifest.name}-${manifest.version}-${target}.vsix`;
const out = resolve(options.out ?? join(extensionDir, defaultName));

const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
const version = (name) => {
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry)
    throw new Error(
      `packageVsix: ${name} is not in package-lock.json; run npm install at the repository root.`,
    );
  return entry.version;
};
const dependencies = Object.fromEntries(
  [...NATIVE_DEPENDENCIES, ...platform.binaries].map((name) => [name, version(name)]),
);

const stage = mkdtempSync(join(tmpdir(), 'keel-vsix-'));
try {
  for (const part of ['dist', 'media', 'CHANGELOG.md', 'LICENSE']) {
    cpSync(join(extensionDir, part), join(stage, part), {
      recursive: true,
      filter: (source) => !source.endsWith('.map'),
    });
  }
  const links = readmeLinks(readFileSync(join(extensionDir, 'README.md'), 'utf8'), options.repository);
  writeFileSync(join(stage, 'README.md'), links.readme);
  const { scripts, devDependencies, private: _private, ...published } = manifest;
  const repository = options.repository
    ? { type: 'git', url: options.repository, directory: 'extension' }
    : undefined;
  writeFileSync(
    join(stage, 'package.json'),
    JSON.stringify({ ...published, repository, dependencies }, null, 2),
  );
  writeFileSync(join(stage, '.vscodeignore'), readFileSync(join(extensionDir, '.vscodeignore'), 'utf8'));
  // The target's binaries are optional dependencies of LanceDB and DuckDB, listed here as direct
  // ones; npm installs them for the target's platform (--os, --cpu, --libc), wherever this runs.
  // Other optional dependencies are left out: LanceDB's include a transformers.js stack Keel never loads.
  execFileSync(
    'npm',
    [
      'install',
      '--omit=dev',
      '--omit=optional',
      '--workspaces=false',
      '--no-audit',
      '--no-fund',
      `--os=${platform.os}`,
      `--cpu=${platform.cpu}`,
      ...(platform.libc ? [`--libc=${platform.libc}`] : []),
      // npm checks a direct dependency against this machine whatever --os says: another
      // platform's binary is only installed with --force (nothing of it runs here).
      ...(target === currentTarget() ? [] : ['--force']),
    ],
    { cwd: stage, stdio: 'inherit' },
  );
  const vsce = join(repoRoot, 'node_modules', '.bin', 'vsce');
  if (options.ls) {
    const listing = execFileSync(vsce, ['ls'], { cwd: stage, encoding: 'utf8' });
    writeFileSync(options.ls, listing);
  }
  execFileSync(vsce, ['package', '--out', out, '--target', target, ...links.vsceArgs], {
    cwd: stage,
    stdio: 'inherit',
  });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
const megabytes = (statSync(out).size / 1e6).toFixed(1);
console.log(
  `Packaged ${out} for ${target} (${megabytes} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
