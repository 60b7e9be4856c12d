// Bundles the extension (dist/extension.js, vscode external), the daemon it starts
// (dist/keeld.js, from daemon/src) and the sidebar's browser script (dist/webview/sidebar.js).
import { build } from 'esbuild';

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
};

await Promise.all([
  build({ ...node, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist', external: ['vscode'] }),
  build({
    ...node,
    entryPoints: { keeld: '../daemon/src/keeld.ts' },
    outdir: 'dist',
    external: ['@lancedb/lancedb', '@duckdb/node-api', 'apache-arrow'],
  }),
  build({
    entryPoints: { sidebar: 'src/webview/sidebar.ts' },
    outdir: 'dist/webview',
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    logLevel: 'warning',
  }),
]);
