/** `keel gc`: what Keel's own records under `.keel/` hold past `retention.keel`, and freeing it. */
import { z } from 'zod';
import { defineRequest, lazy } from './define';

/** One thing `keel gc` would free (or keeps, for cassettes: they are the operator's files). */
export const GcItem = lazy(() =>
  z.object({
    kind: z.enum(['journal', 'proposal', 'cassette']),
    /** The run id, proposal id, or cassette path. */
    id: z.string(),
    /** Workspace-relative file. */
    path: z.string(),
    bytes: z.number().int().nonnegative(),
    /** Why it can go: `finished 2026-01-02, older than 90d`. */
    reason: z.string(),
    /** Freed by `--apply`; false for what gc only lists (cassettes under runbooks/, in git). */
    freeable: z.boolean(),
  }),
);
export type GcItem = z.infer<typeof GcItem>;

/**
 * `keel/gc`: lists (dry run, the default) or frees (`apply`) journals of finished runs and decided
 * proposals older than keel.yaml's `retention.keel`. A freed run keeps its summary and figures in
 * the run store, so `keel runs` and `keel report` still count it.
 */
export const GcRequest = defineRequest({
  method: 'keel/gc',
  params: lazy(() =>
    z
      .strictObject({ apply: z.boolean().default(false) })
      .optional()
      .default({ apply: false }),
  ),
  result: lazy(() =>
    z.object({
      items: z.array(GcItem.unwrap()),
      /** Bytes of the freeable items. */
      freeableBytes: z.number().int().nonnegative(),
      applied: z.boolean(),
    }),
  ),
});
