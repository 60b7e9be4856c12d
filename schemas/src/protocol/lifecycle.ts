/** Stopping the daemon on request. */
import { z } from 'zod';
import { defineRequest, lazy } from './define';

/**
 * `keel/shutdown`: stop the daemon. It answers first, tells every client it is stopping, then
 * closes its transports, releases the workspace lock and exits. Named to avoid LSP's own
 * `shutdown`, which only the client that spawned the daemon may send.
 */
export const ShutdownRequest = defineRequest({
  method: 'keel/shutdown',
  params: lazy(() =>
    z
      .strictObject({
        /** Why, for the daemon's log and the clients: `keel stop`. */
        reason: z.string().max(200).optional(),
      })
      .optional()
      .default({}),
  ),
  result: lazy(() => z.object({ pid: z.number().int().positive() })),
});
