/** Runbooks and their runs: list, start, watch, trace, cancel, replay, test. */
import { z } from 'zod';
import { NoParams, Problem } from './common';
import { defineNotification, defineRequest, lazy } from './define';

export const RunStatus = z.enum([
  'queued',
  'running',
  /** A proposed change waits for the operator; the run goes on when it is decided. */
  'waiting_approval',
  /** A `checkpoint` step waits for the operator to continue, edit or stop the run. */
  'waiting_operator',
  'succeeded',
  /** A step failed for good, or a success criterion did not hold. */
  'failed',
  /** The next model call could have passed the run's budget, so it was not made. */
  'budget_exceeded',
  'cancelled',
]);
export type RunStatus = z.infer<typeof RunStatus>;

export const FINISHED_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'budget_exceeded',
  'cancelled',
];

const InputValue = lazy(() => z.union([z.string(), z.number(), z.boolean()]));

export const RunbookInputInfo = lazy(() =>
  z.object({
    name: z.string(),
    type: z.enum(['string', 'number', 'integer', 'boolean']),
    description: z.string().nullable(),
    required: z.boolean(),
    default: InputValue.unwrap().nullable(),
    enum: z.array(z.union([z.string(), z.number()])).nullable(),
  }),
);
export type RunbookInputInfo = z.infer<typeof RunbookInputInfo>;

export const RunbookInfo = lazy(() =>
  z.object({
    /** The runbook's `name`, or the file's base name when the file does not parse. */
    name: z.string(),
    /** Workspace-relative path of the runbook file. */
    path: z.string(),
    role: z.string().nullable(),
    description: z.string().nullable(),
    inputs: z.array(RunbookInputInfo.unwrap()),
    /** Empty when the runbook is valid; a runbook with problems cannot run. */
    problems: z.array(Problem.unwrap()),
  }),
);
export type RunbookInfo = z.infer<typeof RunbookInfo>;

/** `keel/runbooks/list`: every runbook in the workspace, valid or not. */
export const RunbooksListRequest = defineRequest({
  method: 'keel/runbooks/list',
  params: NoParams,
  result: lazy(() => z.object({ runbooks: z.array(RunbookInfo.unwrap()) })),
});

export const RunSummary = lazy(() =>
  z.object({
    id: z.string(),
    runbook: z.string(),
    status: RunStatus,
    inputs: z.record(z.string(), InputValue.unwrap()),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    /** The step running now, or the last one that ran. */
    currentStep: z.string().nullable(),
    stepsDone: z.number().int(),
    stepsTotal: z.number().int(),
    costUsd: z.number(),
    tokens: z.number().int(),
    /** Why the run did not succeed, in words the operator can act on. */
    error: z.string().nullable(),
    /** Set when the run escalated to the operator. */
    escalation: z.string().nullable(),
    /** The proposal the run waits for (waiting_approval), or the checkpoint step (waiting_operator). */
    waitingFor: z.string().nullable(),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    /** A child run: the run and step that handed off to it. */
    parent: z.object({ runId: z.string(), stepId: z.string() }).optional(),
    /** The child run this run waits for (a `runbook` step, or an agent's hand-off). */
    waitingForRun: z.string().optional(),
    /** How many times the operator took the run over (absent: never); a taken-over run runs again. */
    takeovers: z.number().int().optional(),
    /** The tier a routed runbook's run uses, and why (`tier fast: latest eval 3/3 passed`); absent unrouted. */
    route: z.object({ tier: z.string(), reason: z.string() }).optional(),
  }),
);
export type RunSummary = z.infer<typeof RunSummary>;

/** `keel/runs/start`: queues a run of a runbook with the given inputs; answers at once. */
export const RunStartRequest = defineRequest({
  method: 'keel/runs/start',
  params: lazy(() =>
    z.strictObject({
      runbook: z.string().min(1),
      inputs: z.record(z.string(), InputValue.unwrap()).default({}),
      /** Record every model exchange into this cassette file (workspace-relative). */
      recordCassette: z.string().min(1).optional(),
      /** Answer every model call from this cassette instead of the endpoint (demos, offline runs). */
      replayCassette: z.string().min(1).optional(),
    }),
  ),
  result: RunSummary,
});

/** `keel/runs/list`: the most recent runs first. */
export const RunsListRequest = defineRequest({
  method: 'keel/runs/list',
  params: lazy(() =>
    z
      .strictObject({
        limit: z.number().int().min(1).max(1_000).default(50),
        runbook: z.string().optional(),
      })
      .optional()
      .default({ limit: 50 }),
  ),
  result: lazy(() => z.object({ runs: z.array(RunSummary.unwrap()) })),
});

export const ModelCallInfo = lazy(() =>
  z.object({
    tier: z.string(),
    model: z.string(),
    attempt: z.number().int(),
    latencyMs: z.number(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    costUsd: z.number(),
    /** `ok`, `replayed` (served from the journal or a cassette), or the failure: `http_429`, `timeout`... */
    outcome: z.string(),
    /** The messages sent, secrets redacted. */
    request: z.unknown(),
    response: z.unknown().nullable(),
  }),
);
export type ModelCallInfo = z.infer<typeof ModelCallInfo>;

export const StepTrace = lazy(() =>
  z.object({
    id: z.string(),
    type: z.string(),
    status: z.enum([
      'pending',
      'running',
      'waiting_approval',
      'waiting_operator',
      'succeeded',
      'skipped',
      'failed',
    ]),
    /** The operator supplied this step's output by hand (taking the run over). */
    supplied: z.boolean().optional(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
    input: z.unknown().nullable(),
    output: z.unknown().nullable(),
    error: z.string().nullable(),
    modelCalls: z.array(ModelCallInfo.unwrap()),
    /** The tier the step's own `model.route` chose, and why; absent for a step without one. */
    route: z.object({ tier: z.string(), reason: z.string() }).optional(),
    /** Each attempt, when the step's `retry:` tried it more than once (absent otherwise). */
    attempts: z
      .array(
        z.object({
          attempt: z.number().int(),
          status: z.enum(['running', 'succeeded', 'failed']),
          startedAt: z.string(),
          endedAt: z.string().nullable(),
          error: z.string().nullable(),
        }),
      )
      .optional(),
    /** The child runs this step handed off to (a `runbook` step, an agent's hand-offs). */
    children: z
      .array(
        z.object({
          runId: z.string(),
          runbook: z.string(),
          /** How the child ended; null while it runs. */
          status: RunStatus.nullable(),
        }),
      )
      .optional(),
    /** Memory this step read: path and line range of each chunk, and the git blob id of what it read. */
    retrieved: z.array(
      z.object({
        path: z.string(),
        startLine: z.number(),
        endLine: z.number(),
        score: z.number(),
        /** Absent for a step journaled before Keel kept it, null when the note was not indexed. */
        blob: z.string().nullable().optional(),
      }),
    ),
  }),
);
export type StepTrace = z.infer<typeof StepTrace>;

/** Which version of its runbook a run keeps, and what has become of the file since. */
export const RunbookVersion = lazy(() =>
  z.object({
    /** Workspace-relative file the run started from (null for a run journaled before Keel kept it). */
    path: z.string().nullable(),
    /** git's blob id of the text the run keeps; null for a run journaled before Keel kept it. */
    blob: z.string().nullable(),
    /** The file now: as the run has it, `changed` since the run started, or `deleted`. */
    file: z.enum(['unchanged', 'changed', 'deleted']),
  }),
);
export type RunbookVersion = z.infer<typeof RunbookVersion>;

/**
 * The version in words, the same in the terminal and the editor:
 * `runbooks/renewal.yaml @ 1a2b3c4 (changed since; this run keeps the version it started with)`.
 */
export function describeRunbookVersion(version: RunbookVersion): string {
  const file = version.path ?? 'its file';
  if (!version.blob) {
    // A run journaled before runs kept their runbook runs the file, whatever it now says.
    const since = version.file === 'unchanged' ? '' : `, ${version.file} since the run started`;
    return `${file} (the file as it is now${since})`;
  }
  const since =
    version.file === 'unchanged'
      ? 'unchanged since'
      : `${version.file} since; this run keeps the version it started with`;
  return `${file} @ ${version.blob.slice(0, 7)} (${since})`;
}

/**
 * One action of a failed or cancelled run, as compensation left it: `undone` by its undo,
 * `failed` (its undo failed), `not_undoable` (it declares no undo) or `needs_approval` (keel.yaml
 * would not let its undo run unasked); all but `undone` need the operator.
 */
export const CompensationLine = z.object({
  stepId: z.string(),
  key: z.string(),
  connector: z.string(),
  action: z.string(),
  undo: z.string().nullable(),
  outcome: z.enum(['undone', 'failed', 'not_undoable', 'needs_approval']),
  detail: z.string().nullable(),
  at: z.string(),
});
export type CompensationLine = z.infer<typeof CompensationLine>;

export const RunTrace = lazy(() =>
  z.object({
    run: RunSummary.unwrap(),
    runbook: RunbookVersion.unwrap(),
    steps: z.array(StepTrace.unwrap()),
    /** Each time the operator took the ended run over, oldest first (absent when never). */
    takeovers: z.array(z.object({ fromStep: z.string(), supplied: z.boolean(), at: z.string() })).optional(),
    /**
     * What the run did to take back its actions after it failed or was cancelled, one line per
     * action, in the order it was done (the reverse of the actions); absent when nothing was to undo.
     */
    compensation: z.array(CompensationLine).optional(),
    /**
     * Each time a routed step's answer failed on one tier and it went on to the next, with what its
     * model calls cost on each of the two tiers; absent when none.
     */
    escalations: z
      .array(
        z.object({
          stepId: z.string(),
          fromTier: z.string(),
          toTier: z.string(),
          reason: z.string(),
          fromCostUsd: z.number(),
          toCostUsd: z.number(),
          at: z.string(),
        }),
      )
      .optional(),
  }),
);
export type RunTrace = z.infer<typeof RunTrace>;

/** `keel/runs/get`: one run's full trace, from its journal. */
export const RunGetRequest = defineRequest({
  method: 'keel/runs/get',
  params: lazy(() => z.strictObject({ id: z.string().min(1) })),
  result: RunTrace,
});

/** `keel/runs/cancel`: stops a queued or running run; a finished run is left as it is. */
export const RunCancelRequest = defineRequest({
  method: 'keel/runs/cancel',
  params: lazy(() => z.strictObject({ id: z.string().min(1) })),
  result: RunSummary,
});

export const Divergence = lazy(() =>
  z.object({
    stepId: z.string(),
    /** `request` (the prompt or tools changed), `output`, `missing` (a step the journal lacks), `extra`. */
    kind: z.enum(['request', 'output', 'missing', 'extra', 'status']),
    message: z.string(),
  }),
);

/**
 * `keel/runs/replay`: re-runs a finished run from its journal: no model calls, no side effects.
 * It replays the runbook the run kept (`recorded`), or the file as it is now (`current`), to see
 * where an edit would change what the run did.
 */
export const RunReplayRequest = defineRequest({
  method: 'keel/runs/replay',
  params: lazy(() =>
    z.strictObject({
      id: z.string().min(1),
      runbook: z.enum(['recorded', 'current']).default('recorded'),
    }),
  ),
  result: lazy(() =>
    z.object({
      id: z.string(),
      status: RunStatus,
      modelCalls: z.literal(0),
      sideEffects: z.literal(0),
      /** The first place the replay differs from the journal, or null when it is identical. */
      divergence: Divergence.unwrap().nullable(),
    }),
  ),
});

export const RunbookTestResult = lazy(() =>
  z.object({
    runbook: z.string(),
    case: z.string(),
    file: z.string(),
    passed: z.boolean(),
    status: RunStatus,
    failures: z.array(z.string()),
    durationMs: z.number(),
    /**
     * Where the case's cassette came from: `scripted` answers were written, not given by a model, and
     * are labelled so; null when the cassette does not say (written before Keel labelled them).
     */
    cassetteSource: z.enum(['live', 'scripted']).nullable().default(null),
    /** Said once per cassette: what the test could not check (settings a cassette did not record). */
    notes: z.array(z.string()).default([]),
  }),
);
export type RunbookTestResult = z.infer<typeof RunbookTestResult>;

/** `keel/runbooks/test`: runs the runbook test cases offline, from their cassettes. */
export const RunbookTestRequest = defineRequest({
  method: 'keel/runbooks/test',
  params: lazy(() => z.strictObject({ runbook: z.string().optional() }).optional().default({})),
  result: lazy(() => z.object({ results: z.array(RunbookTestResult.unwrap()) })),
});

/** `keel/runbooks/changed`: a runbook file was added, edited or removed; the full list follows. */
export const RunbooksChangedNotification = defineNotification({
  method: 'keel/runbooks/changed',
  direction: 'serverToClient',
  params: lazy(() => z.object({ runbooks: z.array(RunbookInfo.unwrap()) })),
});

/** `keel/runs/changed`: a run was queued, moved to another step, or finished. */
export const RunChangedNotification = defineNotification({
  method: 'keel/runs/changed',
  direction: 'serverToClient',
  params: RunSummary,
});

/** `keel/models/setApiKey`: the editor hands over a key from its secret storage; kept in memory only. */
export const SetApiKeyRequest = defineRequest({
  method: 'keel/models/setApiKey',
  params: lazy(() =>
    z.strictObject({
      apiKey: z.string().min(1),
      /**
       * The endpoint origin (`scheme://host:port`) the operator stored this key for: it is sent to
       * that origin only, never to another endpoint a workspace names.
       */
      origin: z.string().min(1),
    }),
  ),
  result: lazy(() => z.object({ ok: z.literal(true) })),
});
