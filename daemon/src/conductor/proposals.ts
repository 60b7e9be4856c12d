/**
 * How a run proposes a change and waits for the operator: the proposal is created once (a side
 * effect keyed by run and step), a `waiting` record marks the run as waiting, and the decision is
 * journaled as `decided` before the run goes on, both through the run history's `once`. After a
 * restart the same path finds the proposal and waits again; a replay reads the decision from the
 * journal.
 */
import type { ActionProposal, ChangeKind, Proposal } from '@keel/schemas';
import type { RunBudget } from './budget';
import type { RecordOf } from './journalRecords';
import { decisionKey, type RunHistory } from './runHistory';
import type { RunSlot, StepRuntime } from './steps/stepRuntime';

/**
 * One file of a proposal: its new content (null deletes it) and, when the step computed it from
 * the file as it was (an `append:`), that file's sha256: the approvals service compares it with
 * the file when it records the proposal, so an edit in between makes the proposal stale.
 */
export interface ProposedChange {
  path: string;
  content: string | null;
  baseHash?: string;
  /** An `append:` change: computed again if the file changes before the operator decides. */
  append?: { under: string; text: string };
}

/**
 * A change computed from the file only when the proposal is made: not again when a resumed run
 * finds its proposal made, and never in a runbook test (which captures the proposal instead).
 */
export interface DeferredChange {
  path: string;
  compute(): Promise<Omit<ProposedChange, 'path'>>;
}

/** What runs need of the approvals service. */
export interface ApprovalPort {
  propose(input: {
    id: string;
    runId: string;
    stepId: string;
    runbook: string;
    summary: string;
    reasoning: string;
    changes: ProposedChange[];
    action?: Omit<ActionProposal, 'edited'>;
    fromEvent?: boolean;
    source?: { run: string; event?: string };
  }): Promise<Proposal>;
  waitForDecision(id: string, signal: AbortSignal): Promise<Proposal>;
  /** The keel.yaml rule (described) that lets this change through without the operator, or null. */
  policyRule(path: string, kind: ChangeKind, fromEvent?: boolean): string | null;
}

export interface ProposalRequest {
  /** `<stepId>` for a propose step, `<stepId>:<turn>:<call>` for an agent's tool call. */
  key: string;
  stepId: string;
  changes: (ProposedChange | DeferredChange)[];
  summary: string;
  reasoning: string;
  /** An action proposal (with no `changes`): the connector action that waits for the operator. */
  action?: Omit<ActionProposal, 'edited'>;
}

export interface ProposalOutcome {
  proposal: string | null;
  /** `policy` when a keel.yaml rule applied the change without the operator. */
  decision: 'approved' | 'edited' | 'rejected' | 'policy';
  reason: string | null;
  commit: string | null;
  files: string[];
  /** For an action proposal approved edited: the operator's version of its review document. */
  edited?: string;
}

export function makeProposer(context: {
  runId: string;
  runbook: string;
  history: RunHistory;
  approvals: ApprovalPort | null;
  capture: boolean;
  signal: AbortSignal;
  budget: RunBudget;
  slot: RunSlot;
  effect: StepRuntime['effect'];
  /** The run was started by an event: file rules apply its changes only with `events: true`. */
  fromEvent: boolean;
  /** The event that started the run (`email.received:<connector>:<id>`), stamped on working notes. */
  event?: string;
}): (request: ProposalRequest) => Promise<ProposalOutcome> {
  return async (request) => {
    const files = request.changes.map((c) => c.path);
    // A step run again after a takeover proposes afresh (`:t<n>`): the operator decides again,
    // and a change applied before stays applied once.
    const generation = context.history.generation(request.stepId);
    const key = generation > 0 ? `${request.key}:t${generation}` : request.key;
    // "." cannot occur in a step id, so a propose step and an agent's tool call never share an id.
    const id = `p-${context.runId}.${key.replace(/:/g, '.')}`;
    const created = (await context.effect(
      `${context.runId}:${key}`,
      'keel.approvals',
      'propose',
      {
        summary: request.summary,
        files,
        ...(request.action ? { action: `${request.action.connector}.${request.action.action}` } : {}),
      },
      async () => {
        if (!context.approvals) throw new Error('approvals are not available in this run');
        const proposal = await context.approvals.propose({
          id,
          runId: context.runId,
          stepId: request.stepId,
          runbook: context.runbook,
          summary: request.summary,
          reasoning: request.reasoning,
          changes: await Promise.all(
            request.changes.map(async (c) => ('compute' in c ? { path: c.path, ...(await c.compute()) } : c)),
          ),
          ...(request.action ? { action: request.action } : {}),
          ...(context.fromEvent ? { fromEvent: true } : {}),
          source: { run: context.runId, ...(context.event ? { event: context.event } : {}) },
        });
        return { proposal: proposal.id, status: proposal.status };
      },
      () => ({ proposal: null, status: 'captured' }),
    )) as { proposal: string | null; status: string };
    if (context.capture || created.proposal === null) {
      return { proposal: null, decision: 'approved', reason: null, commit: null, files };
    }
    const proposalId = created.proposal;
    let waited = false;
    const record = await context.history.once<RecordOf<'decided'>>(
      { key: decisionKey(proposalId), stepId: request.stepId, what: `waits for a decision on ${proposalId}` },
      async () => {
        if (!context.approvals) throw new Error('approvals are not available in this run');
        waited = created.status !== 'applied';
        if (waited) {
          await context.history.append({
            type: 'waiting',
            stepId: request.stepId,
            proposalId,
            at: now(),
          });
          // Waiting takes no concurrency slot: other runs go on meanwhile.
          context.slot.release();
        }
        // The operator's time is not the run's: the wall-clock budget stops while it waits.
        context.budget.pause();
        const proposal = await context.approvals
          .waitForDecision(proposalId, context.signal)
          .finally(() => context.budget.resumeClock());
        const decided: RecordOf<'decided'> = {
          type: 'decided',
          stepId: request.stepId,
          proposalId: proposal.id,
          decision: proposal.decision?.kind ?? 'rejected',
          reason: proposal.decision?.reason ?? null,
          commit: proposal.decision?.commit ?? null,
          ...(typeof proposal.action?.edited === 'string' ? { edited: proposal.action.edited } : {}),
          at: now(),
        };
        return { result: decided, record: decided };
      },
    );
    // Journaled first, so the decision is kept whatever happens while the run queues for a slot.
    if (waited) await context.slot.acquire();
    return outcome(record, files);
  };
}

function outcome(record: RecordOf<'decided'>, files: string[]): ProposalOutcome {
  return {
    proposal: record.proposalId,
    decision: record.decision,
    reason: record.reason,
    commit: record.commit,
    files,
    ...(record.edited !== undefined ? { edited: record.edited } : {}),
  };
}

function now(): string {
  return new Date().toISOString();
}
