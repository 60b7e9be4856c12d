/**
 * What a start needs of each finished run (its summary, the rows the trace store holds of it, its
 * runbook's role), kept in one sealed file beside the journals: a start reads it instead of every
 * finished run's journal and seals, which took about 0.2 ms a run, so a workspace with 1,500 runs
 * waited 0.3 s and more before `keel run`'s first step. An entry stands for its journal as it was
 * read (size, times, inode): a journal changed, replaced or rolled back since is read again, with
 * every check a journal gets. The file is sealed with the per-user key like Keel's other state, so
 * one cloned with a repository or written by hand is quarantined and the journals are read.
 */
import { lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunSummary } from '@keel/schemas';
import { readSealedState, writeSealedState } from '../runtime/sealedState';
import type { StateSeal } from '../runtime/stateKey';
import type { RunRowCounts } from './traceStore';

/** The journal file an entry was made from. */
export interface JournalFile {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface FinishedRun {
  file: JournalFile;
  summary: RunSummary;
  /** The trace store's rows of the run (Recovery.catchUpStore compares them). */
  rows: RunRowCounts;
  /** The run's runbook and its role, when its kept runbook could be read. */
  role: { runbook: string; role: string } | null;
}

const VERSION = 1;

export class FinishedRuns {
  private changed = false;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly sealer: StateSeal,
    private readonly runs: Map<string, FinishedRun>,
  ) {}

  /** The file beside `runsDir` (`.keel/finished-runs.json`); empty when there is none or it is not believed. */
  static async load(
    runsDir: string,
    sealer: StateSeal,
    warn: (message: string) => void,
  ): Promise<FinishedRuns> {
    const path = join(dirname(runsDir), 'finished-runs.json');
    const opened = await readSealedState(
      sealer.workspace,
      path,
      'finishedRuns',
      sealer,
      { holds: 'summaries of finished runs', without: 'the run journals are read instead' },
      warn,
    ).catch((error: unknown) => {
      // Unreadable (permissions, a disk error): the journals say the same, only slower to read.
      warn(`${path} could not be read (${errorText(error)}); the run journals are read instead.`);
      return null;
    });
    const runs = new Map<string, FinishedRun>();
    if (opened?.version === VERSION && typeof opened.runs === 'string') {
      try {
        for (const [id, run] of Object.entries(JSON.parse(opened.runs) as Record<string, FinishedRun>)) {
          runs.set(id, run);
        }
      } catch (error) {
        warn(`${path} holds no list of runs (${errorText(error)}); the run journals are read instead.`);
        runs.clear();
      }
    }
    return new FinishedRuns(path, sealer, runs);
  }

  /** The entry of run `id` if its journal is still the file it was made from. */
  get(id: string, file: JournalFile | null): FinishedRun | null {
    const run = this.runs.get(id);
    if (!run || !file) return null;
    const was = run.file;
    const same =
      was.size === file.size &&
      was.mtimeMs === file.mtimeMs &&
      was.ctimeMs === file.ctimeMs &&
      was.ino === file.ino;
    return same ? run : null;
  }

  set(id: string, run: FinishedRun): void {
    this.runs.set(id, run);
    this.changed = true;
  }

  forget(id: string): void {
    if (this.runs.delete(id)) this.changed = true;
  }

  /** Forgets the runs not in `ids` (their journals are gone, or were read again and are not finished). */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const id of this.runs.keys()) {
      if (ids.has(id)) continue;
      this.runs.delete(id);
      this.changed = true;
    }
  }

  /** Writes the file if anything changed since it was read or last written; saves run one after another. */
  save(): Promise<void> {
    if (!this.changed) return this.saving;
    this.changed = false;
    // One string: a seal covers an object's canonical form, which re-sorts every key of every
    // summary (1,500 runs' worth took 58-79 ms to open, 13-16 ms as one string).
    const runs = JSON.stringify(Object.fromEntries(this.runs));
    this.saving = this.saving
      .catch(() => undefined)
      .then(() => writeSealedState(this.path, 'finishedRuns', this.sealer, { version: VERSION, runs }));
    return this.saving;
  }
}

/** The journal file as lstat sees it (a link is not followed), or null when it cannot be seen. */
export function journalFile(path: string): JournalFile | null {
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) return null;
    return { size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino };
  } catch {
    return null;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
