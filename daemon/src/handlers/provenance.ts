/** `keel/memory/why`, `keel/provenance/stale` and `keel/runs/rerun`: provenance and impact of notes. */
import { MemoryWhyRequest, RunRerunRequest, StaleRunsRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import { staleRuns, whyNote, type ProvenancePort } from '../provenance/noteProvenance';
import type { Router } from '../rpc/router';

export function registerProvenanceHandlers(router: Router, daemon: Daemon): void {
  const port = async (): Promise<ProvenancePort> => {
    const conductor = await daemon.conductor.get();
    return {
      workspace: daemon.workspace,
      retrievals: (path) => conductor.retrievals(path),
      runs: () => conductor.list(Number.MAX_SAFE_INTEGER),
      proposals: () => conductor.approvals.list(),
      runRecord: (id) => conductor.runRecord(id),
    };
  };
  router.handle(MemoryWhyRequest, async ({ path }) => whyNote(await port(), path));
  router.handle(StaleRunsRequest, async () => ({ runs: await staleRuns(await port()) }));
  router.handle(RunRerunRequest, async ({ id }) => (await daemon.conductor.get()).rerun(id));
}
