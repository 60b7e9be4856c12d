/** Every protocol area's handlers, registered on the daemon's router. */
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';
import { registerApprovalHandlers } from './approvals';
import { registerConnectorHandlers } from './connectors';
import { registerControlHandlers } from './control';
import { registerEvalHandlers } from './evals';
import { registerLifecycleHandlers } from './lifecycle';
import { registerMemoryHandlers } from './memory';
import { registerProvenanceHandlers } from './provenance';
import { registerRunHandlers } from './runs';
import { registerStatusHandlers } from './status';
import { registerTakeoverHandlers } from './takeover';
import { registerTrustHandlers } from './trust';
import { registerWorkspaceHandlers } from './workspace';

export function registerHandlers(router: Router, daemon: Daemon): void {
  registerStatusHandlers(router, daemon);
  registerWorkspaceHandlers(router, daemon);
  registerLifecycleHandlers(router, daemon);
  registerMemoryHandlers(router, daemon);
  registerRunHandlers(router, daemon);
  registerProvenanceHandlers(router, daemon);
  registerTakeoverHandlers(router, daemon);
  registerApprovalHandlers(router, daemon);
  registerControlHandlers(router, daemon);
  registerTrustHandlers(router, daemon);
  registerConnectorHandlers(router, daemon);
  registerEvalHandlers(router, daemon);
}
