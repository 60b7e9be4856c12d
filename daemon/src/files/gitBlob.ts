/** git's content ids, computed in the process (no git spawned). */
import { createHash } from 'node:crypto';

/** git's blob id of `content`: the same hash `git hash-object` prints. */
export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}
