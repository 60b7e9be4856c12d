/** dist/keeld.js, the daemon the editor starts: starts its bundle (dist/keeld.main.js) with the code cache. */
import { join } from 'node:path';
import { runBundle } from './codeCache';

runBundle(join(__dirname, 'keeld.main.js'));
