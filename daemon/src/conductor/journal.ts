/**
 * A run's append-only journal: `.keel/runs/<id>.jsonl`, one record per line, each written and
 * fsync'd before the conductor goes on, so what the journal says happened did happen. A process
 * killed mid-write leaves at most a torn last line, which reading drops.
 */
import { constants } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { openNoFollow } from '../files/workspacePaths';
import { join } from 'node:path';
import { JournalRecord, type RecordOf } from './journalRecords';

export class JournalCorruptError extends Error {}

export class Journal {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    readonly records: JournalRecord[],
  ) {}

  /** Creates a new journal; fails if one exists (run ids are unique). */
  static async create(
    path: string,
    first: RecordOf<'run'>,
    redact: (text: string) => string = (t) => t,
  ): Promise<Journal> {
    const file = await open(path, 'wx', 0o600);
    const journal = new Journal(path, file, []);
    journal.redact = redact;
    await journal.append(first);
    return journal;
  }

  /** Opens an existing journal to append to it (resuming a run). */
  static async openExisting(path: string, redact: (text: string) => string = (t) => t): Promise<Journal> {
    const { records, bytes } = await readJournalFile(path);
    const file = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    // Cut a torn last line, so the next record starts on a line of its own.
    await file.truncate(bytes);
    await file.datasync();
    await file.close();
    return Journal.appendTo(path, records, redact);
  }

  private static async appendTo(
    path: string,
    records: JournalRecord[],
    redact: (text: string) => string,
  ): Promise<Journal> {
    // Never through a link: a journal planted as a link must not make Keel append elsewhere.
    const file = await open(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
    const journal = new Journal(path, file, records);
    journal.redact = redact;
    return journal;
  }

  /** Applied to every line before it is written: secrets never reach the disk. */
  redact: (text: string) => string = (text) => text;

  async append(record: JournalRecord): Promise<void> {
    const line = this.redact(JSON.stringify(JournalRecord.parse(record)));
    await this.file.write(line + '\n');
    await this.file.datasync();
    // What is kept in memory is what is on disk: traces, DuckDB and cassettes read these, redacted.
    this.records.push(JournalRecord.parse(JSON.parse(line)));
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Every record of a journal; a torn last line (a crash mid-write) is dropped, anything else throws. */
export async function readJournal(path: string): Promise<JournalRecord[]> {
  return (await readJournalFile(path)).records;
}

async function readJournalFile(path: string): Promise<{ records: JournalRecord[]; bytes: number }> {
  const handle = await openNoFollow(path, constants.O_RDONLY);
  if (handle === null) throw Object.assign(new Error(`${path} does not exist`), { code: 'ENOENT' });
  const text = await handle.readFile('utf8').finally(() => handle.close());
  // The text after the last newline is a record a crash interrupted (or nothing).
  const complete = text.split('\n').slice(0, -1);
  const records: JournalRecord[] = [];
  complete.forEach((line, index) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
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
  return { records, bytes: Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)) };
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
