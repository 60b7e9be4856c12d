/**
 * Replays a finished run from its journal: the current runbook executes again with the journal
 * answering every model call and side effect, so nothing is spent and nothing happens; the first
 * place where the new execution differs from the recorded one is reported.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Runbook, WorkspaceConfig } from '@keel/schemas';
import type { ChildRunPort } from './handoffs';
import type { JournalRecord, RecordOf } from './journalRecords';
import { ModelCallError, type ModelProvider } from './models/modelProvider';
import { executeRun } from './runExecutor';
import type { AnalyticsPort } from '../analytics/workspaceAnalytics';
import type { ConnectorPort } from '../connectors/workspaceConnectors';
import { ReplayDivergenceError, RunHistory } from './runHistory';
import type { MemoryAccess } from './steps/stepRuntime';
import { effectiveRecords } from './takeover';

export interface Divergence {
  stepId: string;
  kind: 'request' | 'output' | 'missing' | 'extra' | 'status';
  message: string;
}

export interface ReplayResult {
  status: RecordOf<'runEnd'>['status'];
  modelCalls: 0;
  sideEffects: 0;
  divergence: Divergence | null;
}

/** A provider that must never be reached: a replay answers from the journal only. */
const NO_MODEL: ModelProvider = {
  kind: 'replay',
  complete: () => Promise.reject(new ModelCallError('a replay never calls a model', 'replay', false)),
};

export async function replayRun(options: {
  records: readonly JournalRecord[];
  runbook: Runbook;
  runbookHash: string;
  workspace: string;
  models: WorkspaceConfig['models'];
  memory: MemoryAccess;
  /** Reads the runbooks an agent offers as hand-offs; the journal answers every child run. */
  children?: Pick<ChildRunPort, 'runbook'>;
  /** The workspace's connectors, so `use:` resolves as it did (nothing is performed). */
  connectors?: ConnectorPort;
  /** The analytics tables, for a query whose input changed (one asked as recorded is answered from the journal). */
  analytics?: AnalyticsPort;
}): Promise<ReplayResult> {
  const original = options.records;
  const replayed: JournalRecord[] = [];
  // The journal answers; what the replay writes goes to its own copy, compared afterwards.
  const history = new RunHistory(original, 'replay', (record) => {
    replayed.push(record);
    return Promise.resolve();
  });
  // A run taken over is compared as it stands after its takeovers: what they had run again
  // replaces what ran before, and an output supplied by hand is taken from the journal.
  const compared = effectiveRecords(original, { supplied: false });
  const originalEnd = history.ended();
  if (!originalEnd) throw new Error('only a finished run can be replayed; this one has not ended');
  let divergence: Divergence | null = null;
  let status: ReplayResult['status'];
  try {
    const result = await executeRun({
      runId: history.run.id,
      runbook: options.runbook,
      workspace: options.workspace,
      history,
      models: options.models,
      provider: NO_MODEL,
      memory: options.memory,
      ...(options.connectors ? { connectors: options.connectors } : {}),
      ...(options.analytics ? { analytics: options.analytics } : {}),
      children: options.children
        ? {
            runbook: (name) => options.children!.runbook(name),
            start: () => Promise.reject(new Error('a replay never starts a child run')),
            wait: () => Promise.reject(new Error('a replay never waits for a child run')),
          }
        : null,
      signal: new AbortController().signal,
    });
    if (result.modelCallsSent !== 0 || result.sideEffects !== 0) {
      throw new Error('a replay made a model call or a side effect; this is a bug in Keel');
    }
    status = result.status;
    divergence = firstDifference(compared, replayed);
    if (!divergence && status !== originalEnd.status) {
      divergence = {
        stepId: '',
        kind: 'status',
        message: `the run ended ${status}, the recorded run ${originalEnd.status}`,
      };
    }
  } catch (error) {
    if (!(error instanceof ReplayDivergenceError)) throw error;
    status = 'failed';
    const raised: Divergence = { stepId: error.stepId, kind: error.kind, message: error.message };
    const found = firstDifference(compared, replayed);
    // The step stopped because of what was raised (a call asked with another model or temperature,
    // its input the same): the reason is what the operator needs, not "stopped before step".
    divergence = found && !(found.stepId === error.stepId && found.kind === 'missing') ? found : raised;
  }
  if (divergence && history.run.runbookHash !== options.runbookHash) {
    divergence = { ...divergence, message: `${divergence.message} (the runbook changed since this run)` };
  }
  return { status, modelCalls: 0, sideEffects: 0, divergence };
}

/**
 * The first step whose starts or ends differ between the two executions. Steps are compared one
 * by one, in the order the recorded run started them: parallel branches may interleave differently,
 * and a step a restart interrupted started more than once.
 */
function firstDifference(
  original: readonly JournalRecord[],
  replayed: readonly JournalRecord[],
): Divergence | null {
  const byStep = (records: readonly JournalRecord[]): Map<string, JournalRecord[]> => {
    const steps = new Map<string, JournalRecord[]>();
    for (const record of records) {
      if (record.type !== 'stepStart' && record.type !== 'stepEnd') continue;
      const seen = steps.get(record.stepId) ?? [];
      const last = seen.at(-1);
      // A restart starts the attempt it interrupted again: one attempt, however often it began.
      if (record.type === 'stepStart' && last?.type === 'stepStart' && last.attempt === record.attempt) {
        seen[seen.length - 1] = record;
        continue;
      }
      steps.set(record.stepId, [...seen, record]);
    }
    return steps;
  };
  const a = byStep(original);
  const b = byStep(replayed);
  for (const [id, recorded] of a) {
    const again = b.get(id) ?? [];
    for (let i = 0; i < Math.max(recorded.length, again.length); i++) {
      const difference = compare(id, recorded[i], again[i]);
      if (difference) return difference;
    }
  }
  for (const id of b.keys()) {
    if (!a.has(id)) {
      return {
        stepId: id,
        kind: 'extra',
        message: `the replay ran step "${id}", which the recorded run did not`,
      };
    }
  }
  return null;
}

function compare(
  id: string,
  left: JournalRecord | undefined,
  right: JournalRecord | undefined,
): Divergence | null {
  if (!right) return { stepId: id, kind: 'missing', message: `the replay stopped before step "${id}"` };
  if (!left) {
    return {
      stepId: id,
      kind: 'extra',
      message: `the replay ran step "${id}" more often than the recorded run`,
    };
  }
  if (left.type !== right.type) {
    return {
      stepId: id,
      kind: 'extra',
      message: `the replay ran step "${id}" differently from the recorded run`,
    };
  }
  if (
    left.type === 'stepStart' &&
    right.type === 'stepStart' &&
    !isDeepStrictEqual(left.input, right.input)
  ) {
    return { stepId: id, kind: 'request', message: `step "${id}" starts with different input than recorded` };
  }
  if (left.type === 'stepEnd' && right.type === 'stepEnd') {
    if (left.status !== right.status) {
      return {
        stepId: id,
        kind: 'status',
        message: `step "${id}" ${right.status}; it ${left.status} when recorded`,
      };
    }
    if (!isDeepStrictEqual(left.output, right.output)) {
      return { stepId: id, kind: 'output', message: `step "${id}" produced different output than recorded` };
    }
  }
  return null;
}
