/** `keel/memory/*` and `keel/index/*`: searching memory and keeping its index. */
import {
  IndexRebuildRequest,
  IndexRefreshRequest,
  IndexStatusRequest,
  IndexSyncRequest,
  MemoryGetRequest,
  MemorySearchAsOfRequest,
  MemorySearchRequest,
} from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerMemoryHandlers(router: Router, daemon: Daemon): void {
  router.handle(MemorySearchRequest, async (params) => {
    const started = performance.now();
    const found = await daemon.memory.search(params, params.mode);
    const results = found.map((hit) => ({ ...hit, kind: hit.kind ?? ('note' as const) }));
    return { results, tookMs: Math.round((performance.now() - started) * 100) / 100 };
  });
  router.handle(MemorySearchAsOfRequest, async (params) => {
    const started = performance.now();
    const memory = await daemon.memory.get();
    const { results, snapshot } = await memory.searchAsOf(params, params.mode);
    return { results, snapshot, tookMs: Math.round((performance.now() - started) * 100) / 100 };
  });
  router.handle(MemoryGetRequest, async ({ path }) => (await daemon.memory.get()).get(path));
  router.handle(IndexStatusRequest, () => daemon.memory.status());
  router.handle(IndexSyncRequest, async () => (await daemon.memory.get({ sync: false })).sync());
  router.handle(IndexRefreshRequest, async ({ paths }) => (await daemon.memory.get()).refresh(paths));
  router.handle(IndexRebuildRequest, async () => (await daemon.memory.get({ sync: false })).rebuild());
}
