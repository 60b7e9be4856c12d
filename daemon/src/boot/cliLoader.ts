/**
 * dist/cli.js, the `keel` command: starts the command's bundle (dist/cli.main.js) with the code
 * cache, one per subcommand (see runBundle).
 */
import { join } from 'node:path';
import { runBundle } from './codeCache';

runBundle(join(__dirname, 'cli.main.js'), subcommand(process.argv.slice(2)));

/** The first word that is not an option or the value of --workspace/-w (as bin/keel.cjs reads it). */
function subcommand(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--workspace' || args[i] === '-w') i++;
    else if (!args[i]!.startsWith('-')) return args[i]!;
  }
  return '';
}
