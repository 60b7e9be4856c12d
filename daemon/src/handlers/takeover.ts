/** `keel/runs/takeover` and `keel/runs/checkpoint`: the operator takes a run over or answers it. */
import { RunCheckpointRequest, RunTakeoverRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerTakeoverHandlers(router: Router, daemon: Daemon): void {
  const conductor = () => daemon.conductor.get();
  router.handle(RunTakeoverRequest, async ({ id, fromStep, output }) =>
    (await conductor()).takeOver({ id, fromStep, output }),
  );
  router.handle(RunCheckpointRequest, async (params) =>
    (await conductor()).answerCheckpoint(
      params.id,
      params.action === 'edit' ? { action: 'edit', output: params.output.value } : { action: params.action },
    ),
  );
}
