/**
 * DuckDB's Node binding, loaded at its first use: loading it takes 60-100 ms (and more on a busy
 * machine), which a `keel` command should not pay before it needs a store (issue 14). Types come
 * from `import type`; values (`DuckDBInstance`, `LIST`, ...) from `duckdb()`.
 *
 * A plain `require` so that the build bundles the binding's JavaScript (some 180 small files that
 * Node would otherwise find, read and compile one by one on every start) and the code cache covers
 * it; only its native part (@duckdb/node-bindings) stays in node_modules (esbuild.mjs). The bundle
 * still runs this module's `require` only here, at the first use.
 */
import type * as DuckDb from '@duckdb/node-api';

let binding: typeof DuckDb | undefined;

export function duckdb(): typeof DuckDb {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: bundled, loaded late
  binding ??= require('@duckdb/node-api') as typeof DuckDb;
  return binding;
}
