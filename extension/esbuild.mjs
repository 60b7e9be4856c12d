// Bundles the extension (dist/extension.js, vscode external), the daemon it starts
// (dist/keeld.js, a small loader that starts dist/keeld.main.js with V8's code cache, from
// daemon/src) with its worker thread (dist/worker.js), LanceDB (dist/lance.js) and the
// connectors' protocol libraries (dist/connectors.js), undici for model calls (dist/http.js), and the
// browser scripts of the sidebar, the dashboard, a run's timeline and the approval inbox
// (dist/webview/sidebar.js, dashboard.js, timeline.js, inbox.js; the dashboard's bundles Chart.js).
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';
import {
  escapeToAscii,
  finishStartedBundle,
  keelBundle,
  lanceBundle,
  refuseBundledLibraries,
  startedBundle,
} from '../daemon/asciiBundle.mjs';

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
    ...keelBundle,
    // The worker sits next to keeld.js, where the daemon looks for it (runtime/workerThread.ts).
    entryPoints: { 'keeld.main': '../daemon/src/keeld.ts', worker: '../daemon/src/worker.ts' },
    outdir: 'dist',
    external: ['@lancedb/lancedb', '@duckdb/node-api', 'apache-arrow'],
    plugins: [refuseBundledLibraries],
  }),
  // LanceDB's JavaScript and Arrow, next to keeld.main.js, loaded when the index opens.
  build({
    ...node,
    ...lanceBundle,
    entryPoints: { lance: '../daemon/src/memory/store/lanceBundle.ts' },
    outdir: 'dist',
  }),
  // The email, calendar and billing connectors' libraries, loaded when a connector first needs one,
  // and undici, loaded with the first model call.
  build({
    ...node,
    ...startedBundle,
    entryPoints: {
      connectors: '../daemon/src/connectors/librariesBundle.ts',
      http: '../daemon/src/runtime/httpBundle.ts',
    },
    outdir: 'dist',
  }),
  build({
    ...node,
    sourcemap: false,
    entryPoints: { keeld: '../daemon/src/boot/keeldLoader.ts' },
    outdir: 'dist',
  }),
  build({
    entryPoints: {
      sidebar: 'src/sidebar/webview/sidebar.ts',
      dashboard: 'src/dashboard/webview/dashboard.ts',
      timeline: 'src/runs/webview/timeline.ts',
      inbox: 'src/approvals/webview/inbox.ts',
    },
    outdir: 'dist/webview',
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    logLevel: 'warning',
  }),
]);

for (const bundle of ['keeld.main', 'lance', 'connectors', 'http']) finishStartedBundle(`dist/${bundle}.js`);
escapeToAscii('dist/worker.js');

// The default embedder's word table, built by the daemon's build, goes next to keeld.js; the
// runbook formats' JSON Schemas, built by the schemas build, serve `yamlValidation` (package.json).
mkdirSync('dist', { recursive: true });
copyFileSync('../daemon/dist/keel-static-v1.glove100k.bin', 'dist/keel-static-v1.glove100k.bin');
for (const schema of ['runbook.schema.json', 'runbookTest.schema.json']) {
  copyFileSync(`../schemas/dist/${schema}`, `dist/${schema}`);
}
