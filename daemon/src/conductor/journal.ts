/**
 * A run's append-only journal: `.keel/runs/<id>.jsonl`, one record per line, written before the
 * conductor goes on, so what the journal says happened did happen. A process killed mid-write
 * leaves at most a torn last line, which reading drops. Durability is a group commit: every record
 * but a step's start and a model call is fdatasync'd before its append resolves, and one fdatasync
 * covers every line written before it (see DEFERRED). A run goes on to its next step while its
 * last step's end is being synced, but does nothing outside itself before it is on disk
 * (RunHistory.appendEnd). Every line ends with a seal chained to the line before and bound to the
 * run id (runtime/stateKey): a forged journal, an edited line or a journal copied under another
 * run id does not read.
 */
import { constants, writeSync } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { userStateDir, workspaceKey } from '../runtime/paths';
import { readStateFile, readStateFileSync, type StateSeal } from '../runtime/stateKey';
import { JournalRecord, type RecordOf } from './journalRecords';

export class JournalCorruptError extends Error {}

/**
 * Records written without their own fdatasync: the next synced record (a step's end, an action's
 * intent, a proposal's `waiting`, the run's end) makes them durable with it. Losing them in a power
 * cut only repeats work (the step starts again, the model is asked again); every record that comes
 * before something outside the run happens, or that ends a step, is synced. A process killed
 * without a power cut loses nothing written: the kernel has the lines.
 */
const DEFERRED: ReadonlySet<JournalRecord['type']> = new Set(['stepStart', 'modelCall']);

/** A line written but not yet in `records`, and who is told when it gets there. */
interface Held {
  line: number;
  stored: JournalRecord;
  deferred: boolean;
  released: ((stored: JournalRecord) => void) | undefined;
}

/** A journal Keel did not write as it is: never resumed, replayed or listed. */
export class JournalForgedError extends JournalCorruptError {}

const SEAL_SUFFIX = /,"seal":"([0-9a-f]{64})"\}$/;

export class Journal {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    readonly records: JournalRecord[],
    private readonly sealer: StateSeal,
    private lastSeal: string,
  ) {}

  /** Creates a new journal; fails if one exists (run ids are unique). */
  static async create(
    path: string,
    first: RecordOf<'run'>,
    sealer: StateSeal,
    redact: (text: string) => string = (t) => t,
  ): Promise<Journal> {
    const file = await open(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    const journal = new Journal(path, file, [], sealer, '');
    journal.redact = redact;
    try {
      await journal.append(first);
    } catch (error) {
      // A refused start (a full disk): no handle left open, no torn journal left to resume.
      await file.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
    return journal;
  }

  /** Opens an existing journal to append to it (resuming a run). */
  static async openExisting(
    path: string,
    sealer: StateSeal,
    redact: (text: string) => string = (t) => t,
  ): Promise<Journal> {
    const { records, bytes, lastSeal } = await readJournalFile(path, sealer);
    const file = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW);
    // Cut a torn last line, so the next record starts on a line of its own.
    await file.truncate(bytes);
    await file.datasync();
    const journal = new Journal(path, file, records, sealer, lastSeal);
    journal.redact = redact;
    return journal;
  }

  /** Applied to every line before it is written: secrets never reach the disk. */
  redact: (text: string) => string = (text) => text;

  /** The append being written: records of parallel steps are written one after another. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Lines written, and lines known on disk (an fdatasync that began after them returned). */
  private written = 0;
  private synced = 0;
  /** The fdatasync under way, which every append waiting for durability shares. */
  private syncing: Promise<void> | null = null;
  /** Lines written but not yet in `records`, and the last synced line whose append is done. */
  private readonly held: Held[] = [];
  private shown = 0;

  /**
   * Writes the record; appends made at the same time land in call order, each sealed to the one
   * before. Resolves with the record as written (redacted) once it is durable (see DEFERRED).
   * `released` is called with it when it joins `records`: in file order, whichever append
   * resolves first (a step's start does not wait for the end before it to be synced, but is
   * released after it).
   */
  append(record: JournalRecord, released?: (stored: JournalRecord) => void): Promise<JournalRecord> {
    const written = this.tail.then(() => this.write(record, released));
    this.tail = written.catch(() => undefined);
    if (DEFERRED.has(record.type)) return written.then(({ stored }) => stored);
    return written.then(async ({ stored, line }) => {
      await this.syncedTo(line);
      // Written after the end is on disk: the list never names a run whose end could be lost.
      if (record.type === 'runEnd') await recordEnded(this.sealer.workspace, runIdOf(this.path));
      this.shown = Math.max(this.shown, line);
      this.release();
      return stored;
    });
  }

  /**
   * Moves written lines into `records`, in file order: a synced record once its append is done
   * (what the run shows, a run's end above all, is on disk and settled), a deferred one at once
   * unless a synced line before it still waits.
   */
  private release(): void {
    const moved: Held[] = [];
    while (this.held.length > 0 && (this.held[0]!.line <= this.shown || this.held[0]!.deferred)) {
      const next = this.held.shift()!;
      this.records.push(next.stored);
      moved.push(next);
    }
    // Told after `records` is settled, so a listener that throws cannot hold lines back.
    for (const { stored, released } of moved) released?.(stored);
  }

  private write(
    record: JournalRecord,
    released: ((stored: JournalRecord) => void) | undefined,
  ): { stored: JournalRecord; line: number } {
    // Redacted inside each string, never in the serialised line: a secret that looks like JSON
    // (`true`, `"seal"`) cannot break the line, and an escaped one (`a"b`) is still found.
    const body = JSON.stringify(redactStrings(JournalRecord.parse(record), this.redact));
    const seal = lineSeal(this.sealer, runIdOf(this.path), this.lastSeal, body);
    writeLine(this.file.fd, `${body.slice(0, -1)},"seal":"${seal}"}\n`);
    this.lastSeal = seal;
    // What is kept in memory is what is in the file: traces, DuckDB and cassettes read these,
    // redacted. `body` is a parsed record already, so parsing it again would give the same value.
    const stored = JSON.parse(body) as JournalRecord;
    const line = ++this.written;
    this.held.push({ line, stored, deferred: DEFERRED.has(record.type), released });
    this.release();
    return { stored, line };
  }

  /** Resolves once line `line` is on disk: one fdatasync serves every append waiting at the time. */
  private async syncedTo(line: number): Promise<void> {
    while (this.synced < line) {
      if (!this.syncing) {
        const upTo = this.written;
        this.syncing = this.file
          .datasync()
          .then(() => {
            this.synced = Math.max(this.synced, upTo);
          })
          .finally(() => (this.syncing = null));
      }
      await this.syncing;
    }
  }

  /** Closes the file, with every line written on disk first (a run stopped between two steps). */
  async close(): Promise<void> {
    await this.tail;
    await this.syncedTo(this.written).catch(() => undefined);
    await this.file.close();
  }
}

/**
 * Writes a line at once, in this thread: a record is a few hundred bytes into the page cache,
 * less than the two thread switches an asynchronous write costs (three records per step). Only
 * the fdatasync, which waits for the disk, goes to the thread pool. A write that fails part way
 * (a full disk) throws and leaves at most a torn last line, which reading drops.
 */
function writeLine(fd: number, line: string): void {
  const bytes = Buffer.from(line);
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** Every record of a journal; a torn last line (a crash mid-write) is dropped, anything else throws. */
export async function readJournal(path: string, sealer: StateSeal): Promise<JournalRecord[]> {
  return (await readJournalFile(path, sealer)).records;
}

/** The seal of one line: over the run id, the seal of the line before (none for the first) and the line. */
function lineSeal(sealer: StateSeal, runId: string, previous: string, body: string): string {
  return sealer.seal('journal', `${previous}\n${body}`, runId);
}

function runIdOf(path: string): string {
  return basename(path).replace(/\.jsonl$/, '');
}

/**
 * Every journal of `ids` in `dir`, in that order, each its records or what reading it threw (as
 * `readJournal` would): a start reads them all. The files are read without promises (see
 * readStateFileSync), and the list of ended runs once for all of them, not once per journal: at
 * 1,500 runs the first step of a `keel run` came after 2.3 s, now after 0.7-0.9 s.
 */
export function* readJournals(
  dir: string,
  ids: readonly string[],
  sealer: StateSeal,
): Generator<{ id: string; records: JournalRecord[] } | { id: string; error: unknown }> {
  // Unreadable: each journal fails with the reason, as when it read the list itself.
  let ended: ReadonlyMap<string, number> | { unreadable: unknown };
  try {
    ended = endedCounts(readStateFileSync(endedRunsFile(sealer.workspace)));
  } catch (error) {
    ended = { unreadable: error };
  }
  for (const id of ids) {
    const path = journalPath(dir, id);
    try {
      if ('unreadable' in ended) throw ended.unreadable;
      yield { id, records: parseJournal(path, readStateFileSync(path), sealer, ended).records };
    } catch (error) {
      yield { id, error };
    }
  }
}

async function readJournalFile(
  path: string,
  sealer: StateSeal,
): Promise<{ records: JournalRecord[]; bytes: number; lastSeal: string }> {
  const text = await readStateFile(path);
  return parseJournal(path, text, sealer, await endedRuns(sealer.workspace));
}

/**
 * The records of the journal at `path` whose text is `text` (null: there is none), its seals
 * checked; `ended` says how many times each run ended.
 */
function parseJournal(
  path: string,
  text: string | null,
  sealer: StateSeal,
  ended: ReadonlyMap<string, number>,
): { records: JournalRecord[]; bytes: number; lastSeal: string } {
  if (text === null) throw new JournalCorruptError(`${path}: no such journal`);
  // The text after the last newline is a record a crash interrupted (or nothing).
  const complete = text.split('\n').slice(0, -1);
  const records: JournalRecord[] = [];
  const runId = runIdOf(path);
  let lastSeal = '';
  complete.forEach((line, index) => {
    const seal = SEAL_SUFFIX.exec(line)?.[1];
    const body = seal ? line.replace(SEAL_SUFFIX, '}') : line;
    if (!seal || !sealer.verify('journal', `${lastSeal}\n${body}`, seal, runId)) {
      throw new JournalForgedError(
        `${path}:${index + 1}: ${seal ? 'the seal does not match (edited, reordered, or copied from another run or workspace)' : 'the line carries no seal (not written by this Keel)'}`,
      );
    }
    lastSeal = seal;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw new JournalCorruptError(`${path}:${index + 1}: not a JSON record; the journal is damaged`);
    }
    const parsed = JournalRecord.safeParse(value);
    if (!parsed.success) {
      throw new JournalCorruptError(
        `${path}:${index + 1}: ${parsed.error.issues[0]?.message ?? 'invalid record'}`,
      );
    }
    records.push(parsed.data);
  });
  if (records[0]?.type !== 'run') throw new JournalCorruptError(`${path}: does not start with a run record`);
  if (records[0].id !== runId)
    throw new JournalForgedError(`${path}: holds run ${records[0].id}, not ${runId}`);
  // A run taken over ends again: it ended as often as the list says, or was cut short.
  const ends = records.filter((r) => r.type === 'runEnd').length;
  if (ends < (ended.get(runId) ?? 0)) {
    throw new JournalForgedError(`${path}: the run ended, but its journal was cut short before its end`);
  }
  return { records, bytes: Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)), lastSeal };
}

/**
 * Ids of the runs that ended, per workspace, kept outside it (`<userStateDir>/runs/`): a sealed
 * journal cut short before its end (every line still verifies) is not taken for an unfinished run.
 */
function endedRunsFile(workspace: string): string {
  return join(userStateDir(), 'runs', `${workspaceKey(workspace)}.ended`);
}

async function recordEnded(workspace: string, runId: string): Promise<void> {
  const file = endedRunsFile(workspace);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(
    file,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.write(`${runId}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** How many times each run ended (a run taken over ends once more each time). */
async function endedRuns(workspace: string): Promise<Map<string, number>> {
  return endedCounts(await readStateFile(endedRunsFile(workspace)));
}

/** The ended-runs file's text, counted per run. */
function endedCounts(text: string | null): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of (text ?? '').split('\n').filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** Ids of every run with a journal in `dir`, oldest first (ids start with their start time). */
export async function journalIds(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names
    .filter((n) => n.endsWith('.jsonl'))
    .map((n) => n.slice(0, -'.jsonl'.length))
    .sort();
}

export function journalPath(dir: string, id: string): string {
  return join(dir, `${id}.jsonl`);
}

/** The value with `redact` applied to every string in it (object keys included). */
function redactStrings(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, redact));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [redact(key), redactStrings(item, redact)]),
    );
  }
  return value;
}
