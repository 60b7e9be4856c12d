/**
 * Fires runbooks' triggers in the long-lived daemon: `schedule` triggers at their cron slots,
 * durably (slots missed while the daemon was down fire once, at start-up), `fileChanged`
 * triggers on settled changes, and `event` triggers through the connectors' pollers
 * (triggerEvents.ts). Every run starts through the conductor's `start`, which may refuse
 * it (emergency stop, quota, bad inputs): a refusal is logged, never retried.
 */
import picomatch from 'picomatch';
import type { FileChangedTrigger, Runbook, RunbookTrigger, RunSummary, ScheduleTrigger } from '@keel/schemas';
import type { Logger } from '../log';
import type { Scope } from './templates';
import { renderInputs } from './triggerInputs';
import type { RunbookCatalog } from './runbookCatalog';
import type { InputValues } from './runInputs';
import { FileChangeWatcher } from './triggerFiles';
import type { EventListener, EventPollers } from './triggerEvents';
import { Schedule, systemClock, systemTimeZone, TriggerState, type Clock } from './triggerSchedule';

export interface TriggerSchedulerOptions {
  workspace: string;
  log: Logger;
  /** The runbooks as they are now. */
  runbooks: () => ReturnType<RunbookCatalog['list']>;
  /** Starts a run: the conductor's one entry point, which may refuse it. */
  start: (runbook: string, inputs: InputValues) => Promise<RunSummary>;
  /** Whether the operator consented to this trigger: others are not armed. */
  allowed: (runbook: Runbook, trigger: RunbookTrigger) => boolean;
  clock?: Clock;
  /** How long a file must be left alone before its change counts. */
  settleMs?: number;
  /** Where `event` triggers are armed (the connectors' pollers); none: they are not. */
  events?: EventPollers;
  /** A trigger's identity, which runs started by events are unique for. */
  triggerId?: (runbook: Runbook, trigger: RunbookTrigger) => string;
  /** Whether a run has ended (an unknown run has); none: every slot fires. */
  ended?: (runId: string) => Promise<boolean>;
  /**
   * Runs the runbook's evals for a schedule with `eval:` (drift alerts on its own); not awaited,
   * so a long eval holds up no other trigger. None: such schedules are not armed.
   */
  evaluate?: (runbook: string, options: { tier?: string; repeat: number }) => Promise<void>;
}

interface ArmedSchedule {
  key: string;
  runbook: Runbook;
  trigger: ScheduleTrigger;
  schedule: Schedule;
  timer: NodeJS.Timeout | null;
}

interface FileTrigger {
  runbook: Runbook;
  trigger: FileChangedTrigger;
  matches: (path: string) => boolean;
}

const SETTLE_MS = 300;
/** The longest a schedule sleeps before looking at the clock again (clock changes, suspends). */
const MAX_TIMER_MS = 3_600_000;

export class TriggerScheduler {
  private readonly clock: Clock;
  private state: TriggerState | null = null;
  private schedules = new Map<string, ArmedSchedule>();
  private fileTriggers: FileTrigger[] = [];
  private watcher: FileChangeWatcher | null = null;
  private watchedGlobs: string | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: TriggerSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Re-reads the runbooks: schedules are re-armed (what was missed fires once), the watcher retargeted. */
  refresh(): Promise<void> {
    return this.serially(() => this.reconcile());
  }

  /** Resolves once everything asked of the scheduler so far is done (a refresh, a firing). */
  settled(): Promise<void> {
    return this.serially(() => Promise.resolve());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
    for (const armed of this.schedules.values()) if (armed.timer) clearTimeout(armed.timer);
    this.schedules.clear();
    await this.watcher?.close();
    this.watcher = null;
    await this.options.events?.stop();
  }

  /** One thing at a time: refreshes, schedule ticks and firings never interleave. */
  private serially(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain
      .then(() => (this.stopped ? undefined : task()))
      .catch((error: unknown) => this.options.log.error('triggers failed', { error }));
    return this.chain;
  }

  private async reconcile(): Promise<void> {
    const state = (this.state ??= await TriggerState.load(this.options.workspace, (m) =>
      this.options.log.warn(m),
    ));
    const loaded = await this.options.runbooks();
    const schedules = new Map<string, ArmedSchedule>();
    const files: FileTrigger[] = [];
    const listeners: EventListener[] = [];
    for (const { runbook } of loaded) {
      runbook?.triggers.forEach((trigger, index) => {
        if (trigger.type !== 'manual' && !this.options.allowed(runbook, trigger)) return;
        if (trigger.type === 'schedule') {
          if (trigger.eval && !this.options.evaluate) return;
          const key = `${runbook.name}#${index}`;
          const schedule = this.scheduleOf(runbook, trigger);
          if (schedule) schedules.set(key, { key, runbook, trigger, schedule, timer: null });
        } else if (trigger.type === 'fileChanged') {
          const matches = picomatch(trigger.paths.map(cleanGlob), { dot: true });
          files.push({ runbook, trigger, matches });
        } else if (trigger.type === 'event') {
          const triggerId = this.options.triggerId?.(runbook, trigger) ?? `${runbook.name}#${index}`;
          listeners.push({ runbook, trigger, triggerId });
        }
      });
    }
    await this.updateState(
      state,
      schedules,
      new Set(loaded.map((r) => r.info.name)),
      new Set(loaded.flatMap((r) => (r.runbook ? [r.runbook.name] : []))),
    );
    for (const armed of this.schedules.values()) if (armed.timer) clearTimeout(armed.timer);
    this.schedules = schedules;
    for (const armed of schedules.values()) await this.tick(armed);
    this.fileTriggers = files;
    await this.watchFiles([...new Set(files.flatMap((f) => f.trigger.paths.map(cleanGlob)))].sort());
    await this.options.events?.update(listeners);
  }

  private scheduleOf(runbook: Runbook, trigger: ScheduleTrigger): Schedule | null {
    try {
      return new Schedule(trigger.cron, trigger.timezone ?? systemTimeZone());
    } catch (error) {
      // parseRunbook refuses such runbooks; this is a guard, not a path users take.
      this.options.log.error('a schedule cannot be read', { runbook: runbook.name, error });
      return null;
    }
  }

  /**
   * A schedule seen for the first time, or with a new cron or time zone, counts its slots from now;
   * the records of runbooks removed are dropped (those of runbooks that do not parse just now are kept).
   */
  private async updateState(
    state: TriggerState,
    schedules: Map<string, ArmedSchedule>,
    present: Set<string>,
    valid: Set<string>,
  ): Promise<void> {
    let changed = false;
    for (const key of [...state.schedules.keys()]) {
      const runbook = key.slice(0, key.lastIndexOf('#'));
      if (!schedules.has(key) && (valid.has(runbook) || !present.has(runbook))) {
        state.schedules.delete(key);
        changed = true;
      }
    }
    const now = new Date(this.clock.now()).toISOString();
    for (const { key, schedule } of schedules.values()) {
      const record = state.schedules.get(key);
      if (record?.cron === schedule.pattern && record.timezone === schedule.timezone) continue;
      state.schedules.set(key, { cron: schedule.pattern, timezone: schedule.timezone, lastSlot: now });
      changed = true;
    }
    if (changed) await state.save();
  }

  /** Fires the schedule once if one or more slots passed since it last fired, then sleeps to the next. */
  private async tick(armed: ArmedSchedule): Promise<void> {
    if (this.schedules.get(armed.key) !== armed) return; // replaced by a refresh meanwhile
    const state = this.state!;
    const now = this.clock.now();
    const record = state.schedules.get(armed.key)!;
    const due = armed.schedule.latestAtOrBefore(now);
    if (due !== null && due > Date.parse(record.lastSlot)) {
      const slot = new Date(due).toISOString();
      // A slot that comes while the run of the one before is still under way (waiting for the
      // operator at a checkpoint, say) starts none: two runs of one schedule would do the same
      // work twice, such as a second reminder to a customer whose first still waits for a decision.
      const previous = record.lastRun;
      if (previous && this.options.ended && !(await this.options.ended(previous))) {
        state.schedules.set(armed.key, { ...record, lastSlot: slot });
        await state.save();
        this.options.log.warn(
          'a schedule slot started no run: the run of the slot before is still under way',
          {
            runbook: armed.runbook.name,
            slot,
            run: previous,
          },
        );
      } else {
        // Recorded before the run starts: a crash in between loses this slot rather than running it twice.
        const { lastRun: _ended, ...rest } = record;
        state.schedules.set(armed.key, { ...rest, lastSlot: slot });
        await state.save();
        if (armed.trigger.eval) {
          this.evaluate(armed.runbook, armed.trigger.eval, slot);
          return this.sleepToNext(armed, now);
        }
        const run = await this.fire(armed.runbook, armed.trigger, {
          slot,
          firedAt: new Date(now).toISOString(),
        });
        if (run) {
          state.schedules.set(armed.key, { ...rest, lastSlot: slot, lastRun: run });
          await state.save();
        }
      }
    }
    this.sleepToNext(armed, now);
  }

  private sleepToNext(armed: ArmedSchedule, now: number): void {
    const next = armed.schedule.nextAfter(now);
    if (next === null || this.stopped) return;
    armed.timer = setTimeout(
      () => void this.serially(() => this.tick(armed)),
      Math.min(Math.max(next - now, 0), MAX_TIMER_MS),
    );
    armed.timer.unref();
  }

  /** A schedule's eval slot: started, not awaited; its failure is logged (drift alerts on its own). */
  private evaluate(
    runbook: Runbook,
    options: { tier?: string | undefined; repeat: number },
    slot: string,
  ): void {
    const about = { runbook: runbook.name, trigger: 'schedule', slot };
    this.options.log.info('a schedule started an eval', about);
    this.options.evaluate!(runbook.name, {
      ...(options.tier ? { tier: options.tier } : {}),
      repeat: options.repeat,
    }).catch((error: unknown) =>
      this.options.log.warn('a scheduled eval failed', { ...about, reason: (error as Error).message }),
    );
  }

  private async watchFiles(globs: string[]): Promise<void> {
    const signature = globs.join('\n');
    if (signature === this.watchedGlobs) return;
    await this.watcher?.close();
    this.watcher = null;
    this.watchedGlobs = signature;
    if (globs.length === 0) return;
    this.watcher = await FileChangeWatcher.start({
      root: this.options.workspace,
      globs,
      settleMs: this.options.settleMs ?? SETTLE_MS,
      log: this.options.log,
      onSettled: (path) => void this.fileSettled(path),
    });
  }

  private fileSettled(path: string): Promise<void> {
    return this.serially(async () => {
      const firedAt = new Date(this.clock.now()).toISOString();
      for (const { runbook, trigger, matches } of this.fileTriggers) {
        if (matches(path)) await this.fire(runbook, trigger, { path, firedAt });
      }
    });
  }

  /** Starts the trigger's run; its id, or null when none started. */
  private async fire(runbook: Runbook, trigger: RunbookTrigger, context: Scope): Promise<string | null> {
    const about = { runbook: runbook.name, trigger: trigger.type, ...context };
    let inputs: InputValues;
    try {
      const scope = { trigger: { type: trigger.type, runbook: runbook.name, ...context } };
      inputs = await renderInputs(trigger.type === 'manual' ? {} : (trigger.inputs ?? {}), scope);
    } catch (error) {
      this.options.log.warn("a trigger's inputs could not be rendered; no run", { ...about, error });
      return null;
    }
    try {
      const run = await this.options.start(runbook.name, inputs);
      this.options.log.info('a trigger started a run', { ...about, run: run.id });
      return run.id;
    } catch (error) {
      this.options.log.warn('a trigger fired but the run was refused', {
        ...about,
        reason: (error as Error).message,
      });
      return null;
    }
  }
}

function cleanGlob(glob: string): string {
  return glob.trim().replace(/\\/g, '/').replace(/^\.\//, '');
}
