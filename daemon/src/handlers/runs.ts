/** `keel/runbooks/*`, `keel/runs/*` and `keel/models/*`: runbooks and the runs of them. */
import {
  ErrorCodes,
  KeelRpcError,
  RunbooksListRequest,
  RunbookTestRequest,
  RunCancelRequest,
  RunGetRequest,
  RunReplayRequest,
  RunsListRequest,
  RunStartRequest,
  SetApiKeyRequest,
} from '@keel/schemas';
import { ConductorRequestError } from '../conductor/conductor';
import { InputError } from '../conductor/runInputs';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerRunHandlers(router: Router, daemon: Daemon): void {
  const conductor = () => daemon.conductor.get();
  router.handle(RunbooksListRequest, async () => ({ runbooks: await (await conductor()).listRunbooks() }));
  router.handle(RunStartRequest, async ({ runbook, inputs, recordCassette, replayCassette }) =>
    asInvalidParams(async () =>
      (await conductor()).start(runbook, inputs, { record: recordCassette, replay: replayCassette }),
    ),
  );
  router.handle(RunsListRequest, async ({ limit, runbook }) => ({
    runs: (await conductor()).list(limit, runbook),
  }));
  router.handle(RunGetRequest, async ({ id }) => asInvalidParams(async () => (await conductor()).trace(id)));
  router.handle(RunCancelRequest, async ({ id }) =>
    asInvalidParams(async () => (await conductor()).cancel(id)),
  );
  router.handle(RunReplayRequest, async ({ id, runbook }) =>
    asInvalidParams(async () => (await conductor()).replay(id, runbook)),
  );
  router.handle(RunbookTestRequest, async ({ runbook }) => ({
    results: await (await conductor()).test(runbook),
  }));
  router.handle(SetApiKeyRequest, async ({ apiKey, origin }) => {
    await conductor(); // a workspace without keel.yaml has no use for a key: say so
    daemon.conductor.setApiKey(apiKey, origin);
    return { ok: true as const };
  });
}

/** Mistakes the caller can fix (an unknown run, a missing input) answer InvalidParams with the reason. */
async function asInvalidParams<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ConductorRequestError || error instanceof InputError) {
      throw new KeelRpcError(ErrorCodes.InvalidParams, error.message);
    }
    throw error;
  }
}
