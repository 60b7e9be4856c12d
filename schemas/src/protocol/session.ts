/** Opening a JSON-RPC socket session: the first request on a connection proves the caller's token. */
import { z } from 'zod';
import { defineRequest, lazy } from './define';

/**
 * `keel/auth`: authenticate a socket connection with the token from the daemon's 0600 token file.
 * Any other request before a successful `keel/auth` is refused with `Unauthorized`, and a wrong
 * token closes the connection. Not used on the LSP connection, whose parent process spawned the
 * daemon.
 */
export const AuthRequest = defineRequest({
  method: 'keel/auth',
  params: lazy(() =>
    z.strictObject({
      token: z.string().min(1),
      /** Who is calling, for the daemon's log: `keel-cli/0.1.0`. */
      client: z.string().max(200).optional(),
    }),
  ),
  result: lazy(() => z.object({ daemonVersion: z.string(), workspace: z.string() })),
});
