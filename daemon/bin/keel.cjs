#!/usr/bin/env node
// The `keel` command. The CLI is bundled to dist/ by `npm run build` (run by `npm ci` / `npm install`).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(bundle)) {
  process.stderr.write(`keel: ${bundle} is missing; run "npm run build" in the Keel repository first.\n`);
  process.exit(1);
}
require(bundle);
