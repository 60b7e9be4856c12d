/**
 * The entry of dist/http.js: undici, the HTTP client model calls go through (modelFetch.ts), as a
 * bundle of its own started with V8's code cache when the first model call is made. In the
 * command's bundle it would be read and decoded at every `keel` start; in dist/connectors.js, the
 * first model call would load every connector's library with it (25 ms).
 */
import type * as UndiciModule from 'undici';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- started as a node:vm script, see lanceModules.ts
export const undici = require('undici') as typeof UndiciModule;
