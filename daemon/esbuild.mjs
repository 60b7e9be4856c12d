// Bundles the daemon's two entry points: dist/cli.js (the keel command) and dist/keeld.js (the
// daemon the editor starts). Native modules stay external and load from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'src/cli.ts', keeld: 'src/keeld.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Native modules and the Arrow library LanceDB shares with us load from node_modules.
  external: ['@lancedb/lancedb', '@duckdb/node-api', 'apache-arrow'],
});
