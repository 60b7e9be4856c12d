/**
 * Taking runs up again: at start-up every journal is read (a forged one quarantined, one killed
 * before its run started removed), but those of finished runs kept in finishedRuns.ts and unchanged
 * since; finished runs are listed and unfinished ones resumed from their journals, or kept dormant
 * until the operator trusts the workspace.
 */
import { rm } from 'node:fs/promises';
import type { Runbook, RunSummary } from '@keel/schemas';
import type { ApprovalService } from '../approvals/approvalService';
import type { Logger } from '../log';
import { quarantine, type StateSeal } from '../runtime/stateKey';
import {
  Journal,
  JournalCorruptError,
  JournalForgedError,
  journalIds,
  journalPath,
  readJournal,
  readJournals,
} from './journal';
import type { JournalRecord, RecordOf } from './journalRecords';
import { FinishedRuns, journalFile, type JournalFile } from './finishedRuns';
import { summarize } from './runTrace';
import { cancelPending, currentEnd } from './takeover';
import { retrievalCount } from './retrievalRows';
import type { RunRowCounts, TraceStore } from './traceStore';

export interface RecoveryHost {
  workspace: string;
  runsDir: string;
  sealer: StateSeal;
  log: Logger;
  traces: TraceStore;
  approvals: ApprovalService;
  /** Take unfinished runs up (the long-lived daemon); a one-command daemon only lists them. */
  resume: boolean;
  trusted(): boolean;
  redact(text: string): string;
  /** The runbook a run keeps (see Conductor); throws when it cannot be read. */
  keptRunbook(run: RecordOf<'run'>): Promise<Runbook>;
  /** Runs that are not under way, by id (written here as journals are read). */
  finished: Map<string, RunSummary>;
  /** Each runbook's role (written here as journals are read). */
  roles: Map<string, string>;
  /** Queues a run taken up again; `runbook` is null for a journal that predates kept runbooks. */
  enqueue(id: string, journal: Journal, runbook: Runbook | null, stepsTotal: number): void;
}

export class Recovery {
  /** Unfinished runs of an untrusted workspace: listed, resumed only once the operator trusts it. */
  private readonly dormant = new Set<string>();

  constructor(private readonly host: RecoveryHost) {}

  /** The store rows each journal read at start-up calls for (see catchUpStore). */
  private readonly expected = new Map<string, RunRowCounts>();

  /** What a start needs of finished runs, kept sealed between starts (read by load). */
  private finishedRuns: FinishedRuns | null = null;

  /**
   * Reads every journal (finished runs unchanged since they were kept come from the sealed file
   * instead): finished runs are listed, unfinished ones resumed or kept dormant. The
   * trace store is brought in line with them later, by catchUpStore: reading the journals needs
   * no DuckDB, so a run can start before it is open (issue 14).
   */
  async load(): Promise<void> {
    const { host } = this;
    const started = performance.now();
    const kept = await FinishedRuns.load(host.runsDir, host.sealer, (message) => host.log.warn(message));
    this.finishedRuns = kept;
    const ids = await journalIds(host.runsDir);
    kept.keepOnly(new Set(ids));
    // Finished runs whose journals are as they were: from the sealed file, without reading them.
    const files = new Map<string, JournalFile | null>();
    const toRead: string[] = [];
    for (const id of ids) {
      const file = journalFile(journalPath(host.runsDir, id));
      const run = kept.get(id, file);
      if (run) {
        this.expected.set(id, run.rows);
        if (run.role) host.roles.set(run.role.runbook, run.role.role);
        host.finished.set(id, run.summary);
        host.traces.saveRun(run.summary);
      } else {
        files.set(id, file);
        toRead.push(id);
      }
    }
    for (const read of readJournals(host.runsDir, toRead, host.sealer)) {
      const { id } = read;
      kept.forget(id);
      const records = 'records' in read ? read.records : await this.unreadable(id, read.error);
      if (!records) continue;
      const rows = expectedRows(records);
      this.expected.set(id, rows);
      const run = records[0] as RecordOf<'run'>;
      const runbook = await host.keptRunbook(run).catch(() => null);
      if (runbook) host.roles.set(runbook.name, runbook.role);
      const stepsTotal = runbook?.steps.length ?? 0;
      if (currentEnd(records)) {
        const summary = summarize(records, stepsTotal, null);
        host.finished.set(id, summary);
        host.traces.saveRun(summary);
        const file = files.get(id);
        if (file) {
          const role = runbook ? { runbook: runbook.name, role: runbook.role } : null;
          kept.set(id, { file, summary, rows, role });
        }
        continue;
      }
      if (!host.resume || !host.trusted()) {
        host.finished.set(id, summarize(records, stepsTotal, null));
        if (host.resume) {
          this.dormant.add(id);
          host.log.warn('an unfinished run waits for your trust in the workspace to resume', { run: id });
        }
        continue;
      }
      await this.resume(id, records);
    }
    const ms = Math.round(performance.now() - started);
    host.log.debug('runs loaded', { runs: ids.length, journalsRead: toRead.length, ms });
  }

  /**
   * Writes what load learnt of finished runs (finishedRuns.ts), if anything. Called once the store
   * is caught up (at once in the daemon, at the latest when a one-command daemon stops), so that a
   * start never waits for it.
   */
  private saveFinished(): Promise<void> {
    return this.finishedRuns?.save() ?? Promise.resolve();
  }

  /**
   * After load: the store shows what the journals say and nothing else. A run the store holds
   * fewer rows of than its journal (a batch a crash cut off) is reloaded from its journal, read
   * again as it is now; a run no journal backs is dropped, unless `keel gc` archived it (its
   * summary is listed from the store). `known` names the runs started since load, kept too.
   */
  async catchUpStore(known: () => Iterable<string>): Promise<void> {
    const { host } = this;
    const counts = await host.traces.rowCounts();
    for (const [id, expected] of this.expected) {
      const held = counts.get(id);
      // A lost batch may have held only ends (a run's last step): compared too, not only rows.
      if (
        (held?.modelCalls ?? 0) !== expected.modelCalls ||
        (held?.steps ?? 0) !== expected.steps ||
        (held?.ended ?? 0) !== expected.ended ||
        (held?.actions ?? 0) !== expected.actions ||
        (held?.settled ?? 0) !== expected.settled ||
        (held?.retrievals ?? 0) !== expected.retrievals
      ) {
        const records = await readJournal(journalPath(host.runsDir, id), host.sealer).catch(() => null);
        if (records) host.traces.reload(id, records);
      }
    }
    host.traces.keepOnly([...new Set([...this.expected.keys(), ...known()])]);
    this.expected.clear();
    for (const summary of await host.traces.archivedRuns().catch(() => [])) {
      if (!host.finished.has(summary.id)) host.finished.set(summary.id, summary);
    }
    await this.saveFinished().catch((error: unknown) =>
      host.log.warn('the summaries of finished runs could not be kept; the next start reads the journals', {
        error,
      }),
    );
  }

  /** The workspace is trusted now: the runs that waited for it are taken up. */
  async resumeDormant(): Promise<void> {
    const dormant = [...this.dormant];
    this.dormant.clear();
    for (const id of dormant) {
      const records = await readJournal(journalPath(this.host.runsDir, id), this.host.sealer).catch(
        () => null,
      );
      if (!records) continue;
      this.host.finished.delete(id);
      await this.resume(id, records);
    }
  }

  /** Deals with a journal that could not be read (forged, empty or unreadable): null, always. */
  private async unreadable(id: string, error: unknown): Promise<null> {
    const { host } = this;
    const path = journalPath(host.runsDir, id);
    if (error instanceof JournalForgedError) {
      // Keel did not write this journal as it is: it is never resumed, replayed or listed.
      const moved = await quarantine(host.workspace, path, `Not a run journal Keel wrote: ${error.message}`);
      host.log.warn(
        `${path} was not resumed: ${error.message}. It was moved to ${moved ?? 'quarantine'}; ` +
          'a forged or edited journal never runs. Delete it once you have looked at it.',
      );
      return null;
    }
    if (error instanceof JournalCorruptError && /does not start with a run record/.test(error.message)) {
      // Killed while creating the journal: the run was never started (its start was never answered).
      await rm(path, { force: true });
      return null;
    }
    host.log.error('a run journal cannot be read; the run is left as it is', { path, error });
    return null;
  }

  /**
   * Takes up an unfinished run from its journal (ends it if the operator had cancelled it); also
   * a run a one-command daemon is asked to answer at its checkpoint.
   */
  async resume(id: string, records: JournalRecord[]): Promise<void> {
    const { host } = this;
    const run = records[0] as RecordOf<'run'>;
    const runbook = await host.keptRunbook(run).catch(() => null);
    const stepsTotal = runbook?.steps.length ?? 0;
    const journal = await Journal.openExisting(journalPath(host.runsDir, id), host.sealer, (text) =>
      host.redact(text),
    );
    if (cancelPending(records)) {
      // Cancelled, then stopped before its end was written: it ends cancelled, never goes on.
      await journal.append({
        type: 'runEnd',
        status: 'cancelled',
        outputs: null,
        error: 'cancelled by the operator',
        escalation: null,
        at: new Date().toISOString(),
      });
      await journal.close();
      host.finished.set(id, summarize(journal.records, stepsTotal, null));
      await host.approvals.withdraw(id);
      return;
    }
    await journal.append({ type: 'resume', at: new Date().toISOString() });
    host.log.info('resuming a run', { run: id, runbook: run.runbook });
    host.enqueue(id, journal, run.runbookFile ? runbook : null, stepsTotal);
  }
}

/** The rows the trace store holds of a run whose journal has these records. */
function expectedRows(records: readonly JournalRecord[]): RunRowCounts {
  const steps = stepRows(records);
  const actions = actionRows(records);
  return {
    steps: steps.rows,
    ended: steps.ended,
    modelCalls: records.filter((r) => r.type === 'modelCall').length,
    actions: actions.rows,
    settled: actions.settled,
    retrievals: retrievalCount(records),
  };
}

/**
 * The step rows the trace store holds for these records, and how many of them have ended: a row
 * per step start, ended by a later end of the same step (as the store's batches apply them).
 */
/** The run's connector calls (one row per key) and those settled, as TraceBatch records them. */
function actionRows(records: readonly JournalRecord[]): { rows: number; settled: number } {
  const settled = new Map<string, boolean>();
  for (const record of records) {
    if (record.type === 'effectIntent') settled.set(record.key, false);
    else if (record.type === 'effect' || record.type === 'effectFailed') settled.set(record.key, true);
  }
  return { rows: settled.size, settled: [...settled.values()].filter(Boolean).length };
}

function stepRows(records: readonly JournalRecord[]): { rows: number; ended: number } {
  const open = new Map<string, number>();
  let rows = 0;
  let ended = 0;
  for (const record of records) {
    if (record.type === 'stepStart') {
      rows++;
      open.set(record.stepId, (open.get(record.stepId) ?? 0) + 1);
    } else if (record.type === 'stepEnd') {
      ended += open.get(record.stepId) ?? 0;
      open.set(record.stepId, 0);
    }
  }
  return { rows, ended };
}
