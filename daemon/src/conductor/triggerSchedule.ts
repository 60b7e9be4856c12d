/**
 * Cron schedules of `schedule` triggers (croner as the pattern evaluator, never as a timer), and
 * the durable record of the last slot each one fired: `.keel/triggers.json`, written atomically
 * and sealed (runtime/stateKey), so slots forged in a cloned repository fire nothing.
 */
import { join } from 'node:path';
import { Cron } from 'croner';
import { readSealedState, writeSealedState } from '../runtime/sealedState';
import { StateSeal } from '../runtime/stateKey';

/** Where time comes from; tests pass one to play a daemon that was down for weeks. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export class Schedule {
  private readonly cron: Cron;

  constructor(
    readonly pattern: string,
    readonly timezone: string,
  ) {
    this.cron = new Cron(pattern, { timezone, mode: '5-part', paused: true });
  }

  /** The latest slot at or before `now`, or null when there is none. */
  latestAtOrBefore(now: number): number | null {
    // previousRuns counts only slots before its reference: 1 ms later includes a slot at `now`.
    return this.cron.previousRuns(1, new Date(now + 1))[0]?.getTime() ?? null;
  }

  /** The first slot after `now`, or null when there is none. */
  nextAfter(now: number): number | null {
    return this.cron.nextRun(new Date(now))?.getTime() ?? null;
  }
}

/** Why a cron pattern is not five valid fields, or null when it is. */
export function cronError(pattern: string): string | null {
  const fields = pattern.trim().split(/\s+/).length;
  if (fields !== 5) {
    return `cron needs five fields (minute hour day-of-month month day-of-week), e.g. "0 9 * * 1"; "${pattern}" has ${fields}`;
  }
  try {
    new Schedule(pattern, 'UTC');
    return null;
  } catch (error) {
    return `"${pattern}" is not a valid cron pattern: ${(error as Error).message.replace(/^CronPattern:\s*/, '')}`;
  }
}

/** Why a time zone is not an IANA name this system knows, or null when it is. */
export function timeZoneError(timezone: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return null;
  } catch {
    return `"${timezone}" is not a time zone; use an IANA name such as "Europe/Amsterdam" or "UTC"`;
  }
}

/** One schedule's durable state: what it was when it last fired (or was first seen), and when. */
export interface ScheduleRecord {
  cron: string;
  timezone: string;
  /** The last slot fired, or when the schedule was first seen: slots after it are due. */
  lastSlot: string;
  /** The run the last slot started: while it has not ended, later slots start none. */
  lastRun?: string;
}

interface StateFile {
  version: 1;
  schedules: Record<string, ScheduleRecord>;
}

/** `.keel/triggers.json`: read once, rewritten whole (temporary file, fsync, rename) on change. */
export class TriggerState {
  private constructor(
    private readonly path: string,
    readonly schedules: Map<string, ScheduleRecord>,
    private readonly sealer: StateSeal,
  ) {}

  /** Loads the slots; a file Keel did not seal for this workspace is quarantined and counts as none. */
  static async load(workspace: string, warn: (message: string) => void): Promise<TriggerState> {
    const path = join(workspace, '.keel', 'triggers.json');
    const sealer = new StateSeal(workspace);
    const schedules = new Map<string, ScheduleRecord>();
    const opened = await readSealedState(
      workspace,
      path,
      'triggers',
      sealer,
      { holds: 'trigger slots', without: 'schedules count their slots from now' },
      warn,
    );
    const parsed = (opened ?? {}) as Partial<StateFile>;
    for (const [key, record] of Object.entries(parsed.schedules ?? {})) {
      if (typeof record?.lastSlot === 'string' && !Number.isNaN(Date.parse(record.lastSlot))) {
        schedules.set(key, record);
      }
    }
    return new TriggerState(path, schedules, sealer);
  }

  save(): Promise<void> {
    const state: StateFile = { version: 1, schedules: Object.fromEntries(this.schedules) };
    return writeSealedState(this.path, 'triggers', this.sealer, state);
  }
}
