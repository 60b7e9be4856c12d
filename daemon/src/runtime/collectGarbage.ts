/**
 * A full garbage collection on request, for the end of large one-off work (a cold index, a big
 * sync). V8 collects its old generation only when that has grown past a limit it raises as it
 * grows, and an editor's daemon that goes quiet after indexing never gets there: at 100,000
 * chunks the main thread kept 60 MB of dead Arrow buffers and 60 MB of dead objects (issue 14).
 *
 * `gc` is taken from a context made while `--expose-gc` is set, and the flag is cleared at once:
 * only this module holds it, and no script, template or worker made later sees a `gc` global.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** Collects every generation now; false if it cannot. */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  if (!collect) return false;
  collect();
  return true;
}
