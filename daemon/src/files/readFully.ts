/** Reading a whole open file into memory the caller chose (a shared buffer, a reused one). */
import { readSync } from 'node:fs';

/**
 * Reads the file open as `fd`, from its start, into `target` until it is full or the file ends;
 * returns how many bytes it read (fewer than `target` holds if the file is shorter now).
 */
export function readFully(fd: number, target: Uint8Array): number {
  let filled = 0;
  while (filled < target.length) {
    const read = readSync(fd, target, filled, target.length - filled, filled);
    if (read === 0) break;
    filled += read;
  }
  return filled;
}
