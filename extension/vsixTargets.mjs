// The platforms Keel's .vsix is built for: those for which both LanceDB and DuckDB publish a prebuilt
// native package on npm (see their optional dependencies in package-lock.json). LanceDB 0.31 has no
// build for Intel Macs, so there is no darwin-x64 package.

/**
 * Packages the bundles keep external (native code) and load from the extension's node_modules, beside
 * each target's binaries. LanceDB's JavaScript and Arrow are bundled (dist/lance.js): of LanceDB,
 * only the platform's binary package ships.
 */
export const NATIVE_DEPENDENCIES = ['@duckdb/node-api'];

/** vsce's target name: npm's platform for the install, and the binaries it needs. */
export const TARGETS = {
  'linux-x64': {
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    binaries: ['@lancedb/lancedb-linux-x64-gnu', '@duckdb/node-bindings-linux-x64'],
  },
  'linux-arm64': {
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    binaries: ['@lancedb/lancedb-linux-arm64-gnu', '@duckdb/node-bindings-linux-arm64'],
  },
  'alpine-x64': {
    os: 'linux',
    cpu: 'x64',
    libc: 'musl',
    binaries: ['@lancedb/lancedb-linux-x64-musl', '@duckdb/node-bindings-linux-x64-musl'],
  },
  'alpine-arm64': {
    os: 'linux',
    cpu: 'arm64',
    libc: 'musl',
    binaries: ['@lancedb/lancedb-linux-arm64-musl', '@duckdb/node-bindings-linux-arm64-musl'],
  },
  'darwin-arm64': {
    os: 'darwin',
    cpu: 'arm64',
    binaries: ['@lancedb/lancedb-darwin-arm64', '@duckdb/node-bindings-darwin-arm64'],
  },
  'win32-x64': {
    os: 'win32',
    cpu: 'x64',
    binaries: ['@lancedb/lancedb-win32-x64-msvc', '@duckdb/node-bindings-win32-x64'],
  },
  'win32-arm64': {
    os: 'win32',
    cpu: 'arm64',
    binaries: ['@lancedb/lancedb-win32-arm64-msvc', '@duckdb/node-bindings-win32-arm64'],
  },
};

/** This machine's target (alpine- for a musl Linux). */
export function currentTarget() {
  const musl = process.platform === 'linux' && !process.report?.getReport().header.glibcVersionRuntime;
  return `${musl ? 'alpine' : process.platform}-${process.arch}`;
}

/**
 * README.md as it goes into the package, and how vsce is to treat its links. VS Code's extension
 * page and the Marketplace show only https images (a packaged file or a data: URL is blocked), so
 * the screenshots (media/screenshots, which do not ship) are served from the repository: with its
 * GitHub or GitLab address, vsce points relative links there; without one, the screenshot lines are
 * left out rather than shown broken.
 */
export function readmeLinks(readme, repository) {
  if (!repository) {
    return {
      readme: readme.replace(/^!\[[^\]]*\]\([^)]+\)\n\n?/gm, ''),
      vsceArgs: ['--allow-missing-repository', '--no-rewrite-relative-links'],
    };
  }
  const base = repository.replace(/\.git$/, '').replace(/\/$/, '');
  const host = /^https:\/\/(github|gitlab)\.com\/[^/]+\/[^/]+$/.exec(base)?.[1];
  if (!host) {
    throw new Error(
      `packageVsix: --repository ${repository} is not an https://github.com/OWNER/NAME or https://gitlab.com/OWNER/NAME address, from which README's images could be served.`,
    );
  }
  const part = (kind) => `${base}${host === 'gitlab' ? '/-' : ''}/${kind}/HEAD/extension`;
  return { readme, vsceArgs: ['--baseImagesUrl', part('raw'), '--baseContentUrl', part('blob')] };
}
