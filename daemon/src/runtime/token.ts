/** The random token a socket client must present; stored in a 0600 file beside the socket. */
import { randomBytes } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';

export async function writeNewToken(path: string): Promise<string> {
  const token = randomBytes(32).toString('hex');
  await rm(path, { force: true });
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(token);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return token;
}

export async function readToken(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new Error(
      `Cannot read the Keel daemon's token at ${path} (${(error as Error).message}). ` +
        `Is the daemon running as another user? Restart it with "keel stop" then "keel daemon".`,
    );
  }
}
