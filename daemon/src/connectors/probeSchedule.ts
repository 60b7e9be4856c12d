/**
 * Scheduled drift probes: every `connectors.<name>.probeMinutes` (60 by default, 0 = off) the
 * daemon probes each instance the operator trusted and whose credentials are in reach, so a server
 * that changed (a password rotated, a field renamed) opens the connector's breaker before a run
 * meets it. Each instance's next probe is jittered (up to a tenth of its interval) so instances
 * do not all call out together; a probe never overlaps another of the same instance (the status
 * joins one under way); nothing runs after `stop`.
 */
import type { ConnectorInstance } from './registry';
import type { ProbeRecord } from './probeRecords';

/** The interval when keel.yaml does not say. */
export const DEFAULT_PROBE_MINUTES = 60;
/** The longest the timer sleeps before looking again (keel.yaml or trust may have changed). */
const MAX_SLEEP_MS = 60_000;

/** What the schedule needs of ConnectorStatus. */
export interface ProbeTarget {
  instances(): ConnectorInstance[];
  probeable(instance: ConnectorInstance): boolean;
  lastProbe(instance: ConnectorInstance): ProbeRecord | null;
  probe(instance: ConnectorInstance): Promise<void>;
  refresh(): void;
}

export interface ProbeScheduleOptions {
  /** A probe that failed to run at all (not a failed probe: that is a result). */
  onError: (instance: string, error: unknown) => void;
  now?: () => number;
  random?: () => number;
}

/** The interval of an instance in milliseconds, or null when its probes are off. */
export function probeIntervalMs(instance: Pick<ConnectorInstance, 'probeMinutes'>): number | null {
  const minutes = instance.probeMinutes ?? DEFAULT_PROBE_MINUTES;
  return minutes > 0 ? minutes * 60_000 : null;
}

/**
 * When the instance is due: its interval after its last probe plus its jitter; never probed under
 * these settings, an interval after the schedule started (a daemon started for a moment, or an
 * MCP server started only when used, is not contacted just because the daemon came up; `keel
 * connectors check` probes at once).
 */
export function nextProbeAt(
  lastAt: number | null,
  intervalMs: number,
  startedAt: number,
  jitter: number,
): number {
  return (lastAt ?? startedAt) + intervalMs + jitter * intervalMs * 0.1;
}

export class ProbeSchedule {
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private startedAt = 0;
  /** Each instance's jitter in [0, 1), drawn once per instance and settings. */
  private readonly jitters = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /** Instances whose probe this schedule started and that has not finished. */
  private readonly busy = new Set<string>();
  /** When each instance's probe was last started: never again before its interval (or a minute). */
  private readonly tried = new Map<string, number>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    private readonly target: ProbeTarget,
    private readonly options: ProbeScheduleOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startedAt = this.now();
    this.wake();
  }

  /** keel.yaml, trust or a credential changed: look again now. */
  wake(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tick();
  }

  /** Stops the timer and waits for the probes it started. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all([...this.running].map((p) => p.catch(() => undefined)));
  }

  /** Probes every instance that is due, then sleeps until the next one is. */
  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    let sleep = MAX_SLEEP_MS;
    for (const instance of this.target.instances()) {
      const due = this.dueAt(instance);
      if (due === null || this.busy.has(instance.name)) continue;
      if (due <= now) this.run(instance);
      else sleep = Math.min(sleep, due - now);
    }
    this.timer = setTimeout(() => this.tick(), Math.max(sleep, 50));
    this.timer.unref();
  }

  private dueAt(instance: ConnectorInstance): number | null {
    const interval = probeIntervalMs(instance);
    if (interval === null || !this.target.probeable(instance)) return null;
    const tried = this.tried.get(instance.name);
    if (tried !== undefined && this.now() - tried < Math.min(interval, MAX_SLEEP_MS)) {
      return tried + Math.min(interval, MAX_SLEEP_MS);
    }
    const last = this.target.lastProbe(instance);
    const key = `${instance.name}\0${interval}`;
    let jitter = this.jitters.get(key);
    if (jitter === undefined) {
      jitter = this.random();
      this.jitters.set(key, jitter);
    }
    return nextProbeAt(last ? Date.parse(last.probe.at) : null, interval, this.startedAt, jitter);
  }

  private run(instance: ConnectorInstance): void {
    this.tried.set(instance.name, this.now());
    this.busy.add(instance.name);
    const running = this.target
      .probe(instance)
      .then(() => this.target.refresh())
      .catch((error: unknown) => this.options.onError(instance.name, error))
      .finally(() => {
        this.busy.delete(instance.name);
        this.running.delete(running);
        this.wake();
      });
    this.running.add(running);
  }
}
