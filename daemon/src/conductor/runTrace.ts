/** A run's summary and full trace, read off its journal. */
import { COST_GATE_STEP } from '@keel/schemas';
import type { RunbookVersion, RunStatus, RunSummary, RunTrace, StepTrace } from '@keel/schemas';
import type { JournalRecord, RecordOf } from './journalRecords';
import { effectiveRecords } from './takeover';

export function summarize(
  journal: readonly JournalRecord[],
  stepsTotal: number,
  live: 'queued' | 'running' | null,
): RunSummary {
  // As it stands after any takeover (what it forgot is left out; spend counts on).
  const records = effectiveRecords(journal);
  const takeovers = journal.filter((r) => r.type === 'takeover').length;
  const run = records[0] as RecordOf<'run'>;
  const end = records.find((r): r is RecordOf<'runEnd'> => r.type === 'runEnd');
  let currentStep: string | null = null;
  let stepsDone = 0;
  let costUsd = 0;
  let tokens = 0;
  for (const record of records) {
    if (record.type === 'stepStart') currentStep = record.stepId;
    if (record.type === 'stepEnd') {
      currentStep = record.stepId;
      if (record.status !== 'failed') stepsDone++;
    }
    if (record.type === 'modelCall') {
      costUsd += record.costUsd;
      tokens += (record.response?.usage.inputTokens ?? 0) + (record.response?.usage.outputTokens ?? 0);
    }
    // What a child run spent is its parent's spend too.
    if (record.type === 'childEnd') {
      costUsd += record.costUsd;
      tokens += record.tokens;
    }
  }
  const proposal = end ? null : waitingProposal(records);
  const checkpoint = end || proposal ? null : waitingCheckpoint(records);
  const waitingFor = proposal ?? checkpoint;
  const waitingForRun = end ? null : waitingChild(records);
  // A run waiting for its child gives its slot to the child: it is still under way, not queued.
  const status: RunStatus =
    end?.status ??
    (proposal
      ? 'waiting_approval'
      : checkpoint
        ? 'waiting_operator'
        : waitingForRun
          ? 'running'
          : (live ?? 'running'));
  return {
    id: run.id,
    runbook: run.runbook,
    status,
    inputs: run.inputs,
    startedAt: run.at,
    endedAt: end?.at ?? null,
    currentStep,
    stepsDone,
    stepsTotal,
    costUsd: Math.round(costUsd * 1e8) / 1e8,
    tokens,
    error: end?.error ?? null,
    escalation: end?.escalation ?? null,
    waitingFor,
    outputs: end?.outputs ?? null,
    ...(run.parent ? { parent: run.parent } : {}),
    ...(waitingForRun ? { waitingForRun } : {}),
    ...(takeovers > 0 ? { takeovers } : {}),
    ...(run.route ? { route: { tier: run.route.tier, reason: run.route.reason } } : {}),
  };
}

/** The child run a run waits for: a `child` record with no `childEnd` after it. */
function waitingChild(records: readonly JournalRecord[]): string | null {
  const open = new Set<string>();
  for (const record of records) {
    if (record.type === 'child') open.add(record.runId);
    if (record.type === 'childEnd') open.delete(record.runId);
  }
  return [...open].at(-1) ?? null;
}

/** The proposal a run waits for: a `waiting` record with no `decided` after it. */
function waitingProposal(records: readonly JournalRecord[]): string | null {
  let waiting: string | null = null;
  for (const record of records) {
    if (record.type === 'waiting') waiting = record.proposalId;
    if (record.type === 'decided' && record.proposalId === waiting) waiting = null;
  }
  return waiting;
}

/** The checkpoint step a run waits at: a `checkpoint` record with no answer after it. */
function waitingCheckpoint(records: readonly JournalRecord[]): string | null {
  let waiting: string | null = null;
  for (const record of records) {
    if (record.type === 'checkpoint') waiting = record.stepId;
    if (record.type === 'checkpointDecided' && record.stepId === waiting) waiting = null;
  }
  return waiting;
}

export function traceOf(
  journal: readonly JournalRecord[],
  summary: RunSummary,
  /** The runbook's steps, in order: each is listed with its type even before it starts. */
  stepOrder: readonly { id: string; type: string }[],
  runbook: RunbookVersion,
): RunTrace {
  const steps = new Map<string, StepTrace>();
  const step = (id: string, type = 'unknown'): StepTrace => {
    let found = steps.get(id);
    if (!found) {
      found = {
        id,
        type,
        status: 'pending',
        startedAt: null,
        endedAt: null,
        durationMs: null,
        input: null,
        output: null,
        error: null,
        modelCalls: [],
        retrieved: [],
      };
      steps.set(id, found);
    }
    return found;
  };
  for (const { id, type } of stepOrder) step(id, type);
  const records = effectiveRecords(journal);
  const takeovers: NonNullable<RunTrace['takeovers']> = [];
  const compensation: NonNullable<RunTrace['compensation']> = [];
  const escalations: RecordOf<'escalation'>[] = [];
  for (const record of records) {
    if (record.type === 'escalation') escalations.push(record);
    if (record.type === 'stepRoute') step(record.stepId).route = { tier: record.tier, reason: record.reason };
    if (record.type === 'compensation') {
      const { type: _type, ...line } = record;
      compensation.push(line);
      continue;
    }
    if (record.type === 'takeover') {
      takeovers.push({ fromStep: record.fromStep, supplied: record.supplied, at: record.at });
      for (const id of record.steps) delete step(id).supplied;
      if (record.supplied) step(record.fromStep).supplied = true;
      continue;
    }
    // A step of its own when it is no runbook step: the wait for the cost forecast (keel.forecast).
    if (record.type === 'checkpoint') {
      const s = step(record.stepId, 'checkpoint');
      s.status = 'waiting_operator';
      if (record.stepId === COST_GATE_STEP) s.startedAt = record.at;
    }
    if (record.type === 'checkpointDecided' && step(record.stepId).status === 'waiting_operator') {
      // The cost wait has no step records: the operator's answer ends it.
      const gate = record.stepId === COST_GATE_STEP;
      Object.assign(
        step(record.stepId),
        gate ? { status: 'succeeded', endedAt: record.at } : { status: 'running' },
      );
    }
    if (record.type === 'stepStart') {
      const s = step(record.stepId, record.stepType);
      Object.assign(s, {
        type: record.stepType,
        status: 'running',
        startedAt: record.at,
        input: record.input,
        error: null,
      });
      const attempt = record.attempt ?? 1;
      const tried = (s.attempts ??= []);
      // A restart begins the same attempt again: it stays one attempt.
      if (tried.at(-1)?.attempt !== attempt) {
        tried.push({ attempt, status: 'running', startedAt: record.at, endedAt: null, error: null });
      }
    } else if (record.type === 'stepEnd') {
      const s = step(record.stepId);
      s.status = record.status;
      s.endedAt = record.at;
      s.output = record.output ?? null;
      s.error = record.error;
      s.retrieved = record.retrieved;
      if (s.startedAt) s.durationMs = Date.parse(record.at) - Date.parse(s.startedAt);
      const attempt = s.attempts?.at(-1);
      if (attempt && record.status !== 'skipped') {
        Object.assign(attempt, { status: record.status, endedAt: record.at, error: record.error });
      }
    } else if (record.type === 'waiting') {
      step(record.stepId).status = 'waiting_approval';
    } else if (record.type === 'decided') {
      const s = step(record.stepId);
      if (s.status === 'waiting_approval') s.status = 'running';
    } else if (record.type === 'child') {
      (step(record.stepId).children ??= []).push({
        runId: record.runId,
        runbook: record.runbook,
        status: null,
      });
    } else if (record.type === 'childEnd') {
      const child = step(record.stepId).children?.find((c) => c.runId === record.runId);
      if (child) child.status = record.status;
    } else if (record.type === 'modelCall') {
      step(record.stepId).modelCalls.push({
        tier: record.tier,
        model: record.model,
        attempt: record.attempt,
        latencyMs: record.latencyMs,
        inputTokens: record.response?.usage.inputTokens ?? 0,
        outputTokens: record.response?.usage.outputTokens ?? 0,
        costUsd: record.costUsd,
        outcome: record.outcome,
        request: record.request,
        response: record.response,
      });
    }
  }
  // A run that ended (crash, cancel) with a step still open shows that step as it was left.
  if (summary.endedAt) {
    for (const s of steps.values()) {
      // The operator stopped the run at its cost wait: nothing failed, nothing ran.
      if (s.id === COST_GATE_STEP && s.status === 'waiting_operator') s.status = 'skipped';
      else if (s.status === 'running' || s.status === 'waiting_operator') s.status = 'failed';
    }
  }
  // Attempts are told only when there was more than one.
  for (const s of steps.values()) if ((s.attempts?.length ?? 0) < 2) delete s.attempts;
  return {
    run: summary,
    runbook,
    steps: [...steps.values()],
    ...(takeovers.length ? { takeovers } : {}),
    ...(compensation.length ? { compensation } : {}),
    ...(escalations.length ? { escalations: escalations.map((e) => costed(e, steps.get(e.stepId))) } : {}),
  };
}

/** An escalation with what the step's model calls cost on the tier it left and the one it went to. */
function costed(
  record: RecordOf<'escalation'>,
  step: StepTrace | undefined,
): NonNullable<RunTrace['escalations']>[number] {
  const spent = (tier: string): number =>
    Math.round(
      (step?.modelCalls ?? []).filter((c) => c.tier === tier).reduce((n, c) => n + c.costUsd, 0) * 1e8,
    ) / 1e8;
  const { type: _type, ...escalation } = record;
  return { ...escalation, fromCostUsd: spent(record.fromTier), toCostUsd: spent(record.toTier) };
}
