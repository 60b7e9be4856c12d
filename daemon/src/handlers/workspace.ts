/** `keel/workspace/init`. */
import { WorkspaceInitRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';
import { initWorkspace } from '../workspace/init';

export function registerWorkspaceHandlers(router: Router, daemon: Daemon): void {
  router.handle(WorkspaceInitRequest, async () => {
    const result = await initWorkspace(daemon.workspace);
    daemon.log.info('workspace initialized', { created: result.created, updated: result.updated });
    await daemon.reloadConfig();
    return result;
  });
}
