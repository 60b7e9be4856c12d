#!/usr/bin/env node
// The `keel` command. The CLI is bundled to dist/ by `npm run build` (run by `npm ci` / `npm install`).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(bundle)) {
  process.stderr.write(`keel: ${bundle} is missing; run "npm run build" in the Keel repository first.\n`);
  process.exit(1);
}

// The long-running command starts again with the daemon's allocator setting, which glibc reads only
// when a process starts: see DAEMON_ENVIRONMENT in schemas/src/daemonEnvironment.ts (a test keeps
// the value here equal to it). The editor starts its daemon with it set too. Not `keel index`: it
// exits when done, which returns all its memory, and the setting made its indexing 1.2-1.45x slower
// (every large buffer mapped and unmapped; issue 14), on top of starting Node twice.
const LONG_RUNNING = new Set(['daemon']);
const args = process.argv.slice(2);
if (process.platform === 'linux' && !process.env.MALLOC_MMAP_THRESHOLD_ && LONG_RUNNING.has(command(args))) {
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, __filename, ...args], {
    stdio: 'inherit',
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '65536' },
  });
  // Ctrl+C reaches both processes from the terminal; passing it on would stop the daemon twice.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
  return;
}
require(bundle);

/** The subcommand: the first word that is not an option or the value of --workspace/-w. */
function command(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--workspace' || argv[i] === '-w') i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return '';
}
