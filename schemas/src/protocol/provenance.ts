/**
 * Provenance and impact: which runs read a note and which version of it (git's blob id), what they
 * changed, and which of their outputs may be stale now that the note has changed.
 */
import { z } from 'zod';
import { NoParams } from './common';
import { defineRequest, lazy } from './define';
import { RunStatus, RunSummary } from './runs';

/** One run's reads of one version of a note. */
export const NoteUse = lazy(() =>
  z.object({
    runId: z.string(),
    runbook: z.string(),
    status: RunStatus,
    startedAt: z.string(),
    /** When the run last read this version (ISO time). */
    readAt: z.string(),
    /** The steps that read it. */
    steps: z.array(z.string()),
    /** git's blob id of what the run read; null when it was not known (a journal before Keel kept it). */
    blob: z.string().nullable(),
    /** Whether the note is still that version on disk (false when it changed or was deleted). */
    current: z.boolean(),
  }),
);
export type NoteUse = z.infer<typeof NoteUse>;

/** An approved (or pending) change linked to the note. */
export const NoteChange = lazy(() =>
  z.object({
    proposalId: z.string(),
    runId: z.string(),
    runbook: z.string(),
    summary: z.string(),
    status: z.enum(['pending', 'stale', 'applied', 'rejected']),
    /** The git commit that applied it; null until applied. */
    commit: z.string().nullable(),
    /** `produced`: a run that read the note proposed it; `changed`: it changes the note itself. */
    relation: z.enum(['produced', 'changed']),
  }),
);
export type NoteChange = z.infer<typeof NoteChange>;

/** `keel/memory/why`: the runs that read a note and the changes built on it or made to it. */
export const MemoryWhyRequest = defineRequest({
  method: 'keel/memory/why',
  params: lazy(() => z.strictObject({ path: z.string().min(1).max(4_096) })),
  result: lazy(() =>
    z.object({
      /** Workspace-relative, forward slashes. */
      path: z.string(),
      /** The note's blob id on disk now; null when it does not exist. */
      blob: z.string().nullable(),
      runs: z.array(NoteUse.unwrap()),
      changes: z.array(NoteChange.unwrap()),
    }),
  ),
});

/** A finished run whose outputs were built on a version of a note that has changed since. */
export const StaleRun = lazy(() =>
  z.object({
    runId: z.string(),
    runbook: z.string(),
    status: RunStatus,
    startedAt: z.string(),
    notes: z.array(
      z.object({
        path: z.string(),
        /** The version the run read. */
        blob: z.string(),
        /** The version on disk now; null when the note was deleted. */
        currentBlob: z.string().nullable(),
      }),
    ),
  }),
);
export type StaleRun = z.infer<typeof StaleRun>;

/**
 * `keel/provenance/stale`: the runs possibly stale, newest first. A run stops being listed once a
 * later run of the same runbook with the same inputs exists (a re-run).
 */
export const StaleRunsRequest = defineRequest({
  method: 'keel/provenance/stale',
  params: NoParams,
  result: lazy(() => z.object({ runs: z.array(StaleRun.unwrap()) })),
});

/** `keel/runs/rerun`: starts the run's runbook again with the same inputs (through normal approvals). */
export const RunRerunRequest = defineRequest({
  method: 'keel/runs/rerun',
  params: lazy(() => z.strictObject({ id: z.string().min(1) })),
  result: RunSummary,
});
