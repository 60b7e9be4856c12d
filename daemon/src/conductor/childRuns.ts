/**
 * Child runs as the conductor has them: a hand-off starts a run like any other (its own journal,
 * queue place, slot, approvals and trace) whose run record names its parent, its ancestry and its
 * share of the parent's budget; the parent waits for it by id, across restarts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { FINISHED_RUN_STATUSES, type Runbook, type RunSummary } from '@keel/schemas';
import { OperatorError } from '../errors';
import type { StateSeal } from '../runtime/stateKey';
import type { ChildEnd, ChildRunPort, ChildStart } from './handoffs';
import { Journal, journalPath } from './journal';
import type { RecordOf } from './journalRecords';
import type { LoadedRunbook, RunbookCatalog } from './runbookCatalog';
import { checkInputs, type InputValues } from './runInputs';

export interface ChildRunsHost {
  runsDir: string;
  sealer: StateSeal;
  redact(text: string): string;
  catalog(): RunbookCatalog;
  /** Resolves once every journal was read at start (a resumed parent may run before its child is read). */
  loaded(): Promise<void>;
  /** The run under way with this id: resolves with its summary when it ends. */
  active(id: string): Promise<RunSummary> | null;
  /** A run not under way (finished, or dormant until the workspace is trusted). */
  finished(id: string): RunSummary | undefined;
  /** The parent's run record (for its cassette). */
  parentRecord(id: string): Promise<RecordOf<'run'>>;
  /** Quotas and the endpoint's breaker, as for a run the operator starts; throws when refused. */
  admit(runbook: string, role: string): void;
  enqueue(id: string, journal: Journal, runbook: Runbook): void;
}

/** How often a parent looks again for a child that is not under way yet (dormant, being read). */
const LOOK_AGAIN_MS = 200;

export class ChildRuns implements ChildRunPort {
  constructor(private readonly host: ChildRunsHost) {}

  async runbook(name: string): Promise<Runbook> {
    return (await this.host.catalog().get(name)).runbook;
  }

  async start(request: ChildStart): Promise<void> {
    const { host } = this;
    await host.loaded();
    if (host.active(request.id) || host.finished(request.id)) return;
    const loaded = await host.catalog().get(request.runbook);
    const parent = await host.parentRecord(request.parent.runId);
    // Inputs are checked (in the record) before quotas are: a wrong input takes no breaker trial.
    const record = childRunRecord(request, loaded, parent.replayCassette);
    host.admit(loaded.runbook.name, loaded.runbook.role);
    let journal: Journal;
    try {
      journal = await Journal.create(journalPath(host.runsDir, request.id), record, host.sealer, (text) =>
        host.redact(text),
      );
    } catch (error) {
      // Started a moment ago by the same hand-off (a restart between start and its record).
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw error;
    }
    host.enqueue(request.id, journal, loaded.runbook);
  }

  async wait(id: string, signal: AbortSignal): Promise<ChildEnd> {
    const { host } = this;
    await host.loaded();
    for (;;) {
      signal.throwIfAborted();
      const active = host.active(id);
      const summary = active ? await abortable(active, signal) : host.finished(id);
      if (!summary && !active) {
        throw new OperatorError(
          `the child run ${id} is not in this workspace any more (was .keel/runs/${id}.jsonl removed?)`,
        );
      }
      if (summary && FINISHED_RUN_STATUSES.includes(summary.status)) {
        return {
          status: summary.status as ChildEnd['status'],
          outputs: summary.outputs,
          error: summary.error,
          costUsd: summary.costUsd,
          tokens: summary.tokens,
        };
      }
      // Not under way yet (dormant until trusted, or halted): look again shortly.
      await delay(LOOK_AGAIN_MS, undefined, { signal });
    }
  }
}

/**
 * A child run's run record: the runbook it starts with (kept, like any run's), its inputs checked
 * against that runbook, its parent, ancestry and share of the parent's budget, and its part of the
 * parent's cassette when the parent replays one.
 */
export function childRunRecord(
  request: ChildStart,
  loaded: LoadedRunbook & { runbook: Runbook },
  replayCassette: string | null,
): RecordOf<'run'> {
  return {
    type: 'run',
    version: 1,
    id: request.id,
    runbook: loaded.runbook.name,
    runbookHash: loaded.hash,
    runbookFile: { path: loaded.info.path, blob: loaded.blob, text: loaded.text },
    inputs: checkInputs(loaded.runbook, scalarInputs(request.inputs)),
    recordCassette: null,
    replayCassette,
    ...(replayCassette ? { cassetteScope: request.scope } : {}),
    parent: request.parent,
    ancestry: request.ancestry,
    limits: request.limits,
    ...(request.origin ? { origin: request.origin } : {}),
    at: new Date().toISOString(),
  };
}

/** A child's inputs are values: a list or an object handed over becomes its JSON text. */
function scalarInputs(inputs: Record<string, unknown>): InputValues {
  const values: InputValues = {};
  for (const [name, value] of Object.entries(inputs)) {
    if (value === null || value === undefined) continue;
    values[name] =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? value
        : JSON.stringify(value);
  }
  return values;
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
