/**
 * DuckDB's Node binding, loaded at its first use: loading it takes 60-100 ms (and more on a busy
 * machine), which a `keel` command should not pay before it needs a store (issue 14). Types come
 * from `import type`; values (`DuckDBInstance`, `LIST`, ...) from `duckdb()`.
 */
import { createRequire } from 'node:module';
import type * as DuckDb from '@duckdb/node-api';

let binding: typeof DuckDb | undefined;

export function duckdb(): typeof DuckDb {
  binding ??= createRequire(__filename)('@duckdb/node-api') as typeof DuckDb;
  return binding;
}
