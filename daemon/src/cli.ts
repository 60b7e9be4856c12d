/** Entry point of the `keel` binary. */
import { main } from './cli/main';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
