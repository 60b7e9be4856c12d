/**
 * The entry of dist/lance.js: LanceDB's JavaScript and the Arrow library it shares with Keel, as one
 * bundle the index loads with V8's code cache (lanceModules.ts). Required from node_modules, they
 * are some 300 files to resolve, read and compile on every start: 130-170 ms of a restarted
 * daemon's first search on a busy 2-core machine, against 75-80 ms from the bundle. Only the native
 * library stays outside it (esbuild.mjs).
 *
 * Both with `require`, as LanceDB requires Arrow: an `import` would resolve to Arrow's ES module
 * build, a second copy whose schemas LanceDB's tables refuse ("Table and inner RecordBatch schemas
 * must be equivalent").
 */
import type * as LanceDbModule from '@lancedb/lancedb';
import type * as ArrowModule from 'apache-arrow';

/* eslint-disable @typescript-eslint/no-require-imports -- one copy of Arrow, see above */
export const lancedb = require('@lancedb/lancedb') as typeof LanceDbModule;
export const arrow = require('apache-arrow') as typeof ArrowModule;
