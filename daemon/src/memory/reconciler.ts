/**
 * Catches what file events miss, soon after they happen. A new folder is watched only once its
 * creation is seen, so notes written into it in between send no event: each new folder is listed again
 * once it is watched, and shortly after a burst of events (or any new folder) settles the whole
 * workspace is compared (path, size, time) with what the index holds. A save or two in known
 * folders, whose events are reliable, costs no walk; nothing runs while the files are quiet.
 */
import type { Logger } from '../log';
import { walkWorkspace, type FileStat } from './files';
import type { IndexWriter } from './indexer';

/** Events in known folders since the last walk that make a burst worth a walk. */
const BURST_EVENTS = 20;
/** A walk of the workspace runs this long after the last event... */
const QUIET_MS = 200;
/** ...or this long after the first event not yet covered by a walk, during a long burst... */
const MAX_WAIT_MS = 1_000;
/**
 * ...but no sooner than this long per file after the previous walk ended: walking costs ~20 µs
 * per file, so walks take at most ~10% of a core however large the workspace (500 notes: every
 * 100 ms; 100,000: every 20 s). Time is not measured: a busy machine would make it erratic.
 */
const GAP_PER_FILE_MS = 0.2;
/** A new folder is listed again this long after it appeared (watched by then). */
const NEW_FOLDER_MS = 150;
/** After a walk that found a missed change, the next one comes this soon to confirm. */
const CONFIRM_MS = 500;

export interface Differences {
  /** Paths to read again: new, changed or gone compared to the index, or of untrustworthy time. */
  paths: string[];
  /** How many of those no event had reported. */
  missed: number;
}

/**
 * What differs between the files on disk and what the writer recorded. For a walk of the whole
 * workspace (`whole`) that includes the files gone from disk; a new folder's listing only adds (its
 * files' removals send events, and the next walk of the workspace checks them), so that listing
 * costs its own files, not the index's.
 */
export function differences(onDisk: Map<string, FileStat>, writer: IndexWriter, whole = true): Differences {
  const paths: string[] = [];
  let missed = 0;
  const add = (path: string, unreported: boolean): void => {
    paths.push(path);
    if (unreported && !writer.isPending(path)) missed++;
  };
  for (const [path, stat] of onDisk) {
    const known = writer.stateOf(path);
    if (!known || known.size !== stat.size || known.mtimeMs !== stat.mtimeMs) add(path, true);
    else if (writer.isRacy(path)) add(path, false);
  }
  if (whole) for (const path of writer.knownPaths()) if (!onDisk.has(path)) add(path, true);
  return { paths, missed };
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;
  private lastEvent = 0;
  /** The first event since the last walk started, or null when every event is covered. */
  private firstEvent: number | null = null;
  private eventsSinceWalk = 0;
  /** A folder appeared (its files may have sent no event), or a walk was asked for. */
  private walkOwed = false;
  private confirmAt: number | null = null;
  /** New folders (workspace-relative) and when to list them. */
  private readonly folders = new Map<string, number>();
  private running: Promise<void> | null = null;
  private lastWalkFiles = 0;
  private lastWalkEnd = 0;
  private closed = false;

  constructor(
    private readonly root: string,
    /** The index's writer now (a repair replaces it). */
    private readonly writer: () => IndexWriter,
    private readonly log: Logger,
  ) {}

  /** A file event arrived: the workspace is walked once events settle. */
  event(): void {
    const now = Date.now();
    this.lastEvent = now;
    this.firstEvent ??= now;
    this.eventsSinceWalk++;
    this.schedule();
  }

  /** A folder appeared (workspace-relative): it is listed again once it is watched. */
  folderAdded(folder: string): void {
    if (!this.folders.has(folder)) this.folders.set(folder, Date.now() + NEW_FOLDER_MS);
    this.walkOwed = true;
    this.event();
  }

  /** Walks the workspace soon, whatever the events (the watch just started: what came before?). */
  walkSoon(): void {
    this.walkOwed = true;
    this.event();
  }

  /** Stops; resolves once a walk under way has queued what it found. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** When the next walk is due, or null when nothing waits. */
  private nextDue(): number | null {
    const walk = this.walkDue();
    // Folders are due in the order they appeared.
    const folder = this.folders.values().next().value;
    if (walk === null) return folder ?? null;
    return folder === undefined ? walk : Math.min(walk, folder);
  }

  /** When the workspace is to be walked, or null when no event waits for a walk. */
  private walkDue(): number | null {
    const worthIt = this.walkOwed || this.eventsSinceWalk >= BURST_EVENTS;
    const since =
      this.firstEvent === null || !worthIt
        ? null
        : Math.min(this.lastEvent + QUIET_MS, this.firstEvent + MAX_WAIT_MS);
    const wanted =
      since === null ? this.confirmAt : this.confirmAt === null ? since : Math.min(since, this.confirmAt);
    if (wanted === null) return null;
    return Math.max(wanted, this.lastWalkEnd + this.lastWalkFiles * GAP_PER_FILE_MS);
  }

  private schedule(): void {
    if (this.closed || this.running) return;
    const due = this.nextDue();
    if (due === null || (this.timer && this.timerDue <= due)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.running = this.run().finally(() => {
          this.running = null;
          this.schedule();
        });
      },
      Math.max(0, due - Date.now()),
    );
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.timer = null;
    if (this.closed) return;
    try {
      const now = Date.now();
      const due = this.nextDue();
      if (due !== null && due <= now) await this.catchUp(now);
    } catch (error) {
      this.log.warn('reconciling the index with the files failed; trying again in a moment', {
        error,
      });
    }
  }

  private async catchUp(now: number): Promise<void> {
    const walk = this.walkDue();
    if (walk !== null && walk <= now) {
      // Events from now on need a walk of their own.
      this.firstEvent = null;
      this.eventsSinceWalk = 0;
      this.walkOwed = false;
      this.confirmAt = null;
      this.folders.clear();
      let compared: Awaited<ReturnType<Reconciler['compare']>>;
      try {
        compared = await this.compare('');
      } catch (error) {
        // The walk is still owed (a repair was replacing the writer, a folder vanished mid-walk):
        // try again a moment later rather than wait for the next event.
        this.lastWalkEnd = Date.now();
        this.confirmAt = this.lastWalkEnd + CONFIRM_MS;
        throw error;
      }
      const { missed, files } = compared;
      this.lastWalkEnd = Date.now();
      this.lastWalkFiles = files;
      if (missed > 0) this.confirmAt = this.lastWalkEnd + CONFIRM_MS;
      return;
    }
    const due = [...this.folders].filter(([, at]) => at <= now).map(([folder]) => folder);
    for (const folder of due) this.folders.delete(folder);
    // A folder inside another one being listed is listed with it.
    const outer = due.filter((f) => !due.some((o) => o !== f && f.startsWith(`${o}/`)));
    let missed = 0;
    for (const folder of outer) missed += (await this.compare(folder)).missed;
    if (missed > 0) this.confirmAt ??= Date.now() + CONFIRM_MS;
  }

  /** Queues what differs under `under`; answers how many changes no event had reported. */
  private async compare(under: string): Promise<{ missed: number; files: number }> {
    const writer = this.writer();
    const onDisk = await walkWorkspace(this.root, under);
    const found = differences(onDisk, writer, under === '');
    if (found.paths.length > 0) writer.enqueue(found.paths);
    if (found.missed > 0) {
      this.log.debug('the files changed without an event; reading them again', {
        folder: under === '' ? '(workspace)' : under,
        missed: found.missed,
      });
    }
    return { missed: found.missed, files: onDisk.size };
  }
}
