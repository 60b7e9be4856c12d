/** dist/cli.js, the `keel` command: starts the command's bundle (dist/cli.main.js) with the code cache. */
import { join } from 'node:path';
import { runBundle } from './codeCache';

runBundle(join(__dirname, 'cli.main.js'));
