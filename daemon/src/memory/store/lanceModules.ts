/**
 * LanceDB and Arrow, loaded when the index opens rather than when the process starts: together they
 * take 1-1.5 s to load on a busy 2-core machine (a 160 MB native library, a large JavaScript one),
 * which `keel run` of a runbook that never searches, `keel status` or `keel --version` should not
 * pay. ChunkIndex.open, the only way to a table, loads them first; the synchronous code after it
 * reads them from here. Keel and LanceDB share one copy of Arrow (LanceDB's tables are Arrow's).
 *
 * Built, they come from dist/lance.js next to the bundle (lanceBundle.ts), started through the code
 * cache; from the sources (tests, tsx), from node_modules. Loaded with `require`, not `import()`:
 * the bundle runs as a `node:vm` script (boot/codeCache.ts), where Node 20 has no `import()`
 * without an experimental flag.
 */
import { createRequire } from 'node:module';
import type * as LanceDbModule from '@lancedb/lancedb';
import type * as ArrowModule from 'apache-arrow';
import { runBundleBeside } from '../../boot/codeCache';

/** The bundle of both, next to the daemon's bundles (esbuild.mjs). */
const BUNDLE = 'lance.js';

interface LanceModules {
  lancedb: typeof LanceDbModule;
  arrow: typeof ArrowModule;
}

let loading: Promise<LanceModules> | null = null;
let loaded: LanceModules | null = null;

export function loadLance(): Promise<LanceModules> {
  loading ??= Promise.resolve().then(() => {
    loaded = runBundleBeside(BUNDLE, (): LanceModules => {
      const load = createRequire(__filename);
      return {
        lancedb: load('@lancedb/lancedb') as typeof LanceDbModule,
        arrow: load('apache-arrow') as typeof ArrowModule,
      };
    });
    return loaded;
  });
  return loading;
}

/** The modules `loadLance` loaded; a programming error before it (never a user's). */
export function lance(): LanceModules {
  if (!loaded) throw new Error('LanceDB was used before loadLance() (chunkIndex.ts opens it first).');
  return loaded;
}
