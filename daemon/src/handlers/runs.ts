/** `keel/runbooks/*`, `keel/runs/*` and `keel/models/*`: runbooks and the runs of them. */
import {
  GcRequest,
  RunbooksListRequest,
  RunbookTestRequest,
  RunCancelRequest,
  RunForecastRequest,
  RunGetRequest,
  RunReplayRequest,
  RunsListRequest,
  RunStartRequest,
  SetApiKeyRequest,
} from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerRunHandlers(router: Router, daemon: Daemon): void {
  const conductor = () => daemon.conductor.get();
  router.handle(RunbooksListRequest, async () => ({ runbooks: await (await conductor()).listRunbooks() }));
  router.handle(RunStartRequest, async ({ runbook, inputs, recordCassette, replayCassette }) =>
    (await daemon.conductor.starter()).start(runbook, inputs, {
      record: recordCassette,
      replay: replayCassette,
    }),
  );
  router.handle(RunForecastRequest, async ({ runbook }) => (await conductor()).forecast(runbook));
  router.handle(RunsListRequest, async ({ limit, runbook }) => ({
    runs: (await conductor()).list(limit, runbook),
  }));
  router.handle(RunGetRequest, async ({ id }) => (await conductor()).trace(id));
  router.handle(RunCancelRequest, async ({ id }) => (await conductor()).cancel(id));
  router.handle(RunReplayRequest, async ({ id, runbook }) => (await conductor()).replay(id, runbook));
  router.handle(RunbookTestRequest, async ({ runbook }) => ({
    results: await (await conductor()).test(runbook),
  }));
  router.handle(GcRequest, async ({ apply }) => (await conductor()).gc(apply));
  router.handle(SetApiKeyRequest, async ({ apiKey, origin }) => {
    await conductor(); // a workspace without keel.yaml has no use for a key: say so
    daemon.conductor.setApiKey(apiKey, origin);
    return { ok: true as const };
  });
}
