/** `keel/trust/*`: the operator's consent to what the workspace wants. */
import { TrustGrantRequest, TrustRevokeRequest, TrustStateRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerTrustHandlers(router: Router, daemon: Daemon): void {
  router.handle(TrustStateRequest, async () => {
    await daemon.settled();
    return daemon.trust.state();
  });
  router.handle(TrustGrantRequest, async ({ wantsHash }) => {
    await daemon.settled();
    await daemon.trust.grant(wantsHash);
    // Answered once memory, runs and stored decisions have taken the new trust in.
    await daemon.applyConfig();
    return daemon.trust.state();
  });
  router.handle(TrustRevokeRequest, async () => {
    await daemon.trust.revoke();
    await daemon.applyConfig();
    return daemon.trust.state();
  });
}
