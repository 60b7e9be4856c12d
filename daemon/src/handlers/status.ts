/** `keel/status`. */
import { StatusRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerStatusHandlers(router: Router, daemon: Daemon): void {
  router.handle(StatusRequest, () => daemon.status());
}
