/**
 * When watchers hear of a run's progress. A step's own records (its start, its model calls, its
 * end) are told at most once per PROGRESS_MS per run, the latest state last, so a run of quick
 * steps does not cost a notification, a summary and a socket write per record (issue 14); every
 * other change (queued, running, waiting, ended) is told at once.
 */
import type { JournalRecord } from './journalRecords';

/** Twenty updates a second: more than an editor's view or a progress line can show. */
export const PROGRESS_MS = 50;

/** Records that move a run along within its status, never into another. */
const PROGRESS: ReadonlySet<JournalRecord['type']> = new Set(['stepStart', 'modelCall', 'stepEnd']);

export class RunProgress {
  /** When each run under way was last told of. */
  private readonly told = new Map<string, number>();
  /** The trailing tell of each run whose latest progress waits for its turn. */
  private readonly pending = new Map<string, NodeJS.Timeout>();

  /** @param tell publishes the run's summary as it is then (if it is still under way) */
  constructor(private readonly tell: (id: string) => void) {}

  /** A record was journaled: the run is told of it now, or once its interval has passed. */
  recorded(id: string, type: JournalRecord['type']): void {
    const since = performance.now() - (this.told.get(id) ?? -Infinity);
    if (!PROGRESS.has(type) || (since >= PROGRESS_MS && !this.pending.has(id))) {
      this.tell(id);
      return;
    }
    if (this.pending.has(id)) return;
    const timer = setTimeout(
      () => {
        this.pending.delete(id);
        this.tell(id);
      },
      Math.max(0, PROGRESS_MS - since),
    );
    // A stopping daemon does not wait for a progress update: its runs' ends are told at once.
    timer.unref();
    this.pending.set(id, timer);
  }

  /** The run's summary was published (any change): a trailing tell of older progress is not needed. */
  published(id: string, ended: boolean): void {
    const timer = this.pending.get(id);
    if (timer) clearTimeout(timer);
    this.pending.delete(id);
    if (ended) this.told.delete(id);
    else this.told.set(id, performance.now());
  }
}
