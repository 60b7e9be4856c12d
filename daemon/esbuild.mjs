// Bundles the daemon's entry points: dist/cli.main.js (the keel command), dist/keeld.main.js (the
// daemon the editor starts) and dist/worker.js (its worker thread for parsing, embedding and
// templates). dist/cli.js and dist/keeld.js are small loaders that start the two large bundles with
// V8's code cache (src/boot/codeCache.ts).
// Native modules stay external and load from node_modules; LanceDB's JavaScript and the Arrow
// library it shares with us are dist/lance.js, loaded when the index opens, the connectors'
// protocol libraries dist/connectors.js, loaded when a connector first needs one, and undici
// dist/http.js, loaded with the first model call. Then builds the
// default embedder's word table into dist/ (once).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import {
  escapeToAscii,
  finishStartedBundle,
  keelBundle,
  lanceBundle,
  refuseBundledLibraries,
  startedBundle,
} from './asciiBundle.mjs';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' };

await build({
  ...common,
  ...keelBundle,
  entryPoints: { 'cli.main': 'src/cli.ts', 'keeld.main': 'src/keeld.ts', worker: 'src/worker.ts' },
  outdir: 'dist',
  sourcemap: 'linked',
  external: ['@lancedb/lancedb', '@duckdb/node-bindings', 'apache-arrow'],
  plugins: [refuseBundledLibraries],
});
await build({
  ...common,
  ...lanceBundle,
  entryPoints: { lance: 'src/memory/store/lanceBundle.ts' },
  outdir: 'dist',
  sourcemap: 'linked',
});
await build({
  ...common,
  ...startedBundle,
  entryPoints: { connectors: 'src/connectors/librariesBundle.ts', http: 'src/runtime/httpBundle.ts' },
  outdir: 'dist',
  sourcemap: 'linked',
});
for (const bundle of ['cli.main', 'keeld.main', 'lance', 'connectors', 'http'])
  finishStartedBundle(`dist/${bundle}.js`);
escapeToAscii('dist/worker.js');
await build({
  ...common,
  entryPoints: { cli: 'src/boot/cliLoader.ts', keeld: 'src/boot/keeldLoader.ts' },
  outdir: 'dist',
});
await build({ ...common, entryPoints: { buildAsset: 'src/memory/embed/buildAsset.ts' }, outdir: 'build' });
execFileSync(process.execPath, ['build/buildAsset.js', 'dist'], { stdio: 'inherit' });

// The sample company `keel demo` creates: its notes, and the example runbooks with their tests.
rmSync('dist/demo', { recursive: true, force: true });
cpSync('demo/company/memory', 'dist/demo/memory', { recursive: true });
cpSync('../runbooks', 'dist/demo/runbooks', { recursive: true });
