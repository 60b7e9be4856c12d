/** What a step can use while it runs: the scope, the models, memory, side effects, the budget. */
import type {
  ChangeKind,
  MemoryDocument,
  Runbook,
  SearchFilter,
  SearchResult,
  StepModel,
} from '@keel/schemas';
import type { RunBudget } from '../budget';
import type { Scope } from '../expressions';
import type { HandoffRequest } from '../handoffs';
import type { RecordOf } from '../journalRecords';
import type { ModelCalls } from '../models/modelGateway';
import type { ToolDefinition } from '../models/modelProvider';
import type { ProposalOutcome, ProposalRequest } from '../proposals';
import type { CheckpointRequest } from '../checkpoints';
import type { ConnectorPort } from '../../connectors/workspaceConnectors';
import type { AnalyticsPort } from '../../analytics/workspaceAnalytics';

/** Memory as agents see it: read-only. */
export interface MemoryAccess {
  search(query: string, k: number, filter?: SearchFilter): Promise<SearchResult[]>;
  read(path: string): Promise<MemoryDocument>;
  /**
   * git's blob id of the note as the index holds it now (what a search hit's text came from), or
   * null when it is not indexed. Optional: a memory without an index (a test's) records no blob.
   */
  indexedBlob?(path: string): Promise<string | null>;
}

export interface StepRuntime {
  runId: string;
  runbook: Runbook;
  workspace: string;
  scope: Scope;
  models: ModelCalls;
  memory: MemoryAccess;
  budget: RunBudget;
  signal: AbortSignal;
  /** The attempt of the step running (1, or more when its `retry:` tried it again). */
  attempt: number;
  /** The operator's corrections of this runbook's earlier proposals, for prompts; null if none. */
  feedback: string | null;
  /** The workspace's connectors: `use:` resolved, actions decided by policy, their contexts. */
  connectors: ConnectorPort;
  /** The analytics tables (`into:`, `import`, `query`); null where there are none (a runbook test). */
  analytics: AnalyticsPort | null;
  /** Proposes a change and resolves with the operator's decision (at once if policy applies it). */
  propose(request: ProposalRequest): Promise<ProposalOutcome>;
  /** Hands off to another runbook as a child run; resolves once the child has ended. */
  handoff(request: HandoffRequest): Promise<RecordOf<'childEnd'>>;
  /** A runbook an agent may hand off to, for its tool (its inputs, role and description). */
  handoffTarget(name: string): Promise<Runbook>;
  /** Waits at a checkpoint for the operator; resolves with the step's output. */
  checkpoint(request: CheckpointRequest): Promise<{ output: unknown }>;
  /**
   * The keel.yaml approvals rule (described) that lets this kind of change to `path` through
   * without the operator, or null when the operator must decide (always null without approvals).
   */
  policyRule(path: string, kind: ChangeKind): string | null;
  /**
   * The run was started by an event (or handed off from one): its content is untrusted, so
   * keel.yaml's allow rules hold for it only where they say `events: true`.
   */
  fromEvent: boolean;
  /**
   * Journals the intent of a connector action before it is performed: `fresh`, or `cut_off` when
   * an earlier intent of this key has no result nor failure after it (it may have happened).
   */
  intend(intent: ActionIntent): Promise<'fresh' | 'cut_off'>;
  /** Journals that the action of the intent with this key failed and did not happen. */
  failedIntent(key: string, error: string): Promise<void>;
  /**
   * Performs a side effect once per key: a key the journal already holds returns the recorded
   * result without performing it again.
   */
  effect(
    key: string,
    connector: string,
    action: string,
    args: Record<string, unknown>,
    perform: () => Promise<unknown>,
    /** The result `perform` would give, computed without doing it (runbook tests). */
    preview: () => unknown,
  ): Promise<unknown>;
  /**
   * The tools the journal says this step offered the model in its first call (of this attempt),
   * or null: a resumed or replayed agent offers the same tools without starting the connectors
   * that list them.
   */
  recordedTools(stepId: string): ToolDefinition[] | null;
  /**
   * The tier of a model step: its own route's choice (made when it first starts, then read from
   * the journal), else its `tier:`, else the runbook's; and the route to escalate along.
   */
  stepTier(step: { id: string; tier?: string | undefined; model?: StepModel | undefined }): Promise<{
    tier: string;
    route: { route: 'cheapest-passing'; tiers: string[] } | Runbook['model'];
  }>;
  /** Journals that a step goes on from one tier to the next (once, however often it restarts). */
  escalate(escalation: { stepId: string; fromTier: string; toTier: string; reason: string }): Promise<void>;
}

export interface ActionIntent {
  key: string;
  connector: string;
  action: string;
  input: unknown;
  undoes?: string;
}

/**
 * The run's concurrency slot, given up while the run waits for something outside itself (the
 * operator's decision), so a waiting run stops no other run.
 */
export interface RunSlot {
  release(): void;
  /** Resolves once the run holds a slot again (queued behind the runs already waiting for one). */
  acquire(): Promise<void>;
}

/** Where there is no queue (a replay, a runbook test): the run always holds its slot. */
export const UNLIMITED_SLOT: RunSlot = { release: () => undefined, acquire: () => Promise.resolve() };

export interface StepResult {
  output: unknown;
  retrieved?: { path: string; startLine: number; endLine: number; score: number; blob?: string | null }[];
}

/** A step failed for a reason the operator can act on (not a crash of Keel). */
export class StepFailedError extends Error {
  constructor(
    message: string,
    /** Whether the step's `retry:` may try it again (never after the operator said no). */
    readonly retryable = true,
  ) {
    super(message);
  }
}

/**
 * The system message of a model step: the step's own, then the operator's corrections of this
 * runbook's earlier proposals (memory/feedback/<runbook>.md), so the next draft learns from them.
 */
export function systemMessage(own: string | null, feedback: string | null): string | null {
  if (!feedback) return own;
  const corrections =
    'The operator corrected earlier proposals of this runbook before approving them. ' +
    `Follow these corrections:\n\n${feedback}`;
  return own ? `${own}\n\n${corrections}` : corrections;
}
