/**
 * What a run's journal holds, one JSON object per line, in the order things happened. The journal
 * is the run's source of truth: its trace, its resume point after a crash and its replay script.
 */
import { z } from 'zod';
import { CompensationLine, ModelCallSettings, RunStatus } from '@keel/schemas';

const At = z.string();
const InputValue = z.union([z.string(), z.number(), z.boolean()]);

export const ModelUsage = z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() });

export const ToolCall = z.object({ id: z.string(), name: z.string(), arguments: z.string() });
export type ToolCall = z.infer<typeof ToolCall>;

export const ModelResponse = z.object({
  content: z.string().nullable(),
  toolCalls: z.array(ToolCall),
  finishReason: z.string().nullable(),
  usage: ModelUsage,
  model: z.string(),
});
export type ModelResponse = z.infer<typeof ModelResponse>;

export const RunRecord = z.object({
  type: z.literal('run'),
  version: z.literal(1),
  id: z.string(),
  runbook: z.string(),
  /** sha256 of the runbook file when the run started: replay says when it changed since. */
  runbookHash: z.string(),
  /**
   * The runbook the run started with: the run keeps this version (resume, replay) whatever
   * happens to the file. Absent in journals written before Keel kept it; those run the file.
   */
  runbookFile: z
    .object({
      /** Workspace-relative path of the file it was read from. */
      path: z.string(),
      /** git's blob id of the file (`git hash-object`). */
      blob: z.string(),
      text: z.string(),
    })
    .optional(),
  inputs: z.record(z.string(), InputValue),
  /** Workspace-relative cassette file every model exchange is recorded into, if asked. */
  recordCassette: z.string().nullable(),
  /** Workspace-relative cassette answering every model call of this run instead of the endpoint. */
  replayCassette: z.string().nullable().default(null),
  /** The part of the cassette that is this run's (a child run's: its parent's step), absent for the root. */
  cassetteScope: z.string().optional(),
  /** A child run: the run and step that handed off to it. */
  parent: z.object({ runId: z.string(), stepId: z.string() }).optional(),
  /** The runbooks of the runs that handed off to this one, outermost first (a cycle is refused). */
  ancestry: z.array(z.string()).optional(),
  /** A child run's share of its parent's budget: what the parent had left when it handed off. */
  limits: z.object({ maxUsd: z.number(), maxTokens: z.number() }).optional(),
  /**
   * A run started by an event (a received email), or a child of one: its content is untrusted,
   * so keel.yaml's allow rules hold for its changes and actions only where they say `events: true`.
   */
  origin: z
    .object({
      type: z.literal('event'),
      event: z.string(),
      connector: z.string(),
      eventId: z.string(),
    })
    .optional(),
  /**
   * The run's cost forecast was above keel.yaml's `approvals.costAbove` when it started: it waits
   * for the operator at the `keel.forecast` checkpoint before its first step.
   */
  costGate: z.object({ message: z.string(), forecast: z.unknown() }).optional(),
  /**
   * The tier a runbook's `model.route` chose when the run started, and why; a resumed or replayed
   * run keeps it. `tiers`: the route's tiers, cheapest first, for escalation.
   */
  route: z.object({ tier: z.string(), tiers: z.array(z.string()), reason: z.string() }).optional(),
  at: At,
});

/**
 * The operator took the ended run over (see takeover.ts): it goes on from `fromStep`, and
 * everything the journal says about `steps` (fromStep and the steps after it) before this record
 * is forgotten, side effects excepted. `supplied`: the operator gave fromStep's output by hand.
 */
const TakeoverRecord = z.object({
  type: z.literal('takeover'),
  fromStep: z.string(),
  steps: z.array(z.string()),
  supplied: z.boolean(),
  output: z.unknown(),
  by: z.literal('operator'),
  at: At,
});

/** A `checkpoint` step waits for the operator to continue, edit or stop the run. */
const CheckpointRecord = z.object({
  type: z.literal('checkpoint'),
  stepId: z.string(),
  message: z.string(),
  /** The state shown to the operator: the step's output if they continue. */
  state: z.unknown(),
  at: At,
});

/** The operator's answer at a checkpoint (a stop ends the run cancelled instead). */
const CheckpointDecidedRecord = z.object({
  type: z.literal('checkpointDecided'),
  stepId: z.string(),
  action: z.enum(['continue', 'edit']),
  output: z.unknown(),
  at: At,
});

export const JournalRecord = z.discriminatedUnion('type', [
  RunRecord,
  /** The daemon took the run up again after a stop or a crash. */
  z.object({ type: z.literal('resume'), at: At }),
  z.object({
    type: z.literal('stepStart'),
    stepId: z.string(),
    stepType: z.string(),
    input: z.unknown(),
    /** 1 for the first attempt of the step; more when its `retry:` tried it again. */
    attempt: z.number().int().min(1).optional(),
    at: At,
  }),
  z.object({
    type: z.literal('modelCall'),
    stepId: z.string(),
    /** 0-based index of the call within its step; attempts of one call share it. */
    call: z.number().int(),
    attempt: z.number().int(),
    /** The step's attempt that made the call (1 when absent): a retried step asks the model again. */
    stepAttempt: z.number().int().min(1).optional(),
    tier: z.string(),
    model: z.string(),
    requestHash: z.string(),
    /** sha256 of the messages alone (absent in journals written before Keel kept it). */
    promptHash: z.string().optional(),
    /** What the call was sent with besides its messages, so a replay names a changed setting. */
    settings: ModelCallSettings.optional(),
    request: z.unknown(),
    response: ModelResponse.nullable(),
    /** `ok`, or why it failed: `http_429`, `http_500`, `timeout`, `connection`, `invalid_output`... */
    outcome: z.string(),
    latencyMs: z.number(),
    costUsd: z.number(),
    at: At,
  }),
  /**
   * A connector action (not `read`) is about to be performed with this input (the operator's
   * edit included). An intent with neither an `effect` nor an `effectFailed` after it was cut off
   * (a crash, a timeout): whether it happened is asked of the provider (`find`) or the operator.
   */
  z.object({
    type: z.literal('effectIntent'),
    stepId: z.string(),
    key: z.string(),
    connector: z.string(),
    action: z.string(),
    input: z.unknown(),
    /** The key of the action this one undoes (compensation); absent for a step's own action. */
    undoes: z.string().optional(),
    at: At,
  }),
  /** The action of an intent failed in a way that says it did not happen (a refusal, bad input). */
  z.object({
    type: z.literal('effectFailed'),
    stepId: z.string(),
    key: z.string(),
    error: z.string(),
    at: At,
  }),
  /** Compensation settled one action of the failed or cancelled run (see compensation.ts). */
  CompensationLine.extend({ type: z.literal('compensation') }),
  /** A side effect that happened; its key makes it happen once however often the step runs. */
  z.object({
    type: z.literal('effect'),
    stepId: z.string(),
    key: z.string(),
    connector: z.string(),
    action: z.string(),
    result: z.unknown(),
    at: At,
  }),
  z.object({
    type: z.literal('stepEnd'),
    stepId: z.string(),
    status: z.enum(['succeeded', 'skipped', 'failed']),
    /** The attempt that ended (1 when absent). */
    attempt: z.number().int().min(1).optional(),
    output: z.unknown(),
    error: z.string().nullable(),
    /**
     * The memory the step read. `blob` is git's blob id of the note's content as read (the index's
     * version for a search hit, the file's for a read): absent in journals written before Keel kept
     * it, null when it was not known (a hit replayed from a cassette for a note not indexed).
     */
    retrieved: z
      .array(
        z.object({
          path: z.string(),
          startLine: z.number(),
          endLine: z.number(),
          score: z.number(),
          blob: z.string().nullable().optional(),
        }),
      )
      .default([]),
    at: At,
  }),
  /** The run waits for the operator's decision on a proposal. */
  z.object({ type: z.literal('waiting'), stepId: z.string(), proposalId: z.string(), at: At }),
  /** The operator (or a policy rule of keel.yaml) decided; the run goes on. */
  z.object({
    type: z.literal('decided'),
    stepId: z.string(),
    proposalId: z.string(),
    decision: z.enum(['approved', 'edited', 'rejected', 'policy']),
    reason: z.string().nullable(),
    commit: z.string().nullable(),
    /** For an action proposal approved edited: the operator's version of its review document. */
    edited: z.string().optional(),
    at: At,
  }),
  /** The step handed off to another runbook: its child run was started. */
  z.object({
    type: z.literal('child'),
    stepId: z.string(),
    runId: z.string(),
    runbook: z.string(),
    /** The child's part of a cassette: the step (or an agent's tool call) that started it. */
    scope: z.string(),
    at: At,
  }),
  /** The child run ended; what it spent counts against this run's budget. */
  z.object({
    type: z.literal('childEnd'),
    stepId: z.string(),
    runId: z.string(),
    status: RunStatus.exclude(['queued', 'running']),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
    costUsd: z.number(),
    tokens: z.number(),
    at: At,
  }),
  z.object({ type: z.literal('cancelRequested'), reason: z.string(), at: At }),
  /** The tier a step's own `model.route` chose when it first started; a restart or replay keeps it. */
  z.object({
    type: z.literal('stepRoute'),
    stepId: z.string(),
    tier: z.string(),
    tiers: z.array(z.string()),
    reason: z.string(),
    at: At,
  }),
  /** A routed step's answer failed on one tier and it went on to the next (models/routing.ts). */
  z.object({
    type: z.literal('escalation'),
    stepId: z.string(),
    fromTier: z.string(),
    toTier: z.string(),
    reason: z.string(),
    at: At,
  }),
  TakeoverRecord,
  CheckpointRecord,
  CheckpointDecidedRecord,
  z.object({
    type: z.literal('runEnd'),
    status: RunStatus.exclude(['queued', 'running']),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
    escalation: z.string().nullable(),
    at: At,
  }),
]);
export type JournalRecord = z.infer<typeof JournalRecord>;
export type RecordOf<T extends JournalRecord['type']> = Extract<JournalRecord, { type: T }>;
