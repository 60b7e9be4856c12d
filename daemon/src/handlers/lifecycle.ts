/** `keel/shutdown`. */
import { ShutdownRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerLifecycleHandlers(router: Router, daemon: Daemon): void {
  router.handle(ShutdownRequest, (params) => {
    // Answer first; the transports flush this reply before they close.
    setImmediate(() => void daemon.stop(params.reason ?? 'shutdown requested'));
    return { pid: process.pid };
  });
}
