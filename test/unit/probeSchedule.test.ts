/**
 * The drift-probe schedule: when each instance is due (interval after its last probe, jittered by
 * at most a tenth; an interval after start when never probed), 0 turns it off, an instance that is not
 * probeable (untrusted, no credential) is left alone, a slow probe is never overlapped, and
 * nothing runs after stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorInstance } from '../../daemon/src/connectors/registry';
import type { ProbeRecord } from '../../daemon/src/connectors/probeRecords';
import {
  DEFAULT_PROBE_MINUTES,
  nextProbeAt,
  probeIntervalMs,
  ProbeSchedule,
  type ProbeTarget,
} from '../../daemon/src/connectors/probeSchedule';
import { fsOutbox } from '../../daemon/src/connectors/fsOutbox';
import { waitFor } from '../helpers/processes';

describe('when a probe is due', () => {
  it('uses 60 minutes by default and none with 0', () => {
    expect(DEFAULT_PROBE_MINUTES).toBe(60);
    expect(probeIntervalMs({})).toBe(3_600_000);
    expect(probeIntervalMs({ probeMinutes: 5 })).toBe(300_000);
    expect(probeIntervalMs({ probeMinutes: 0 })).toBeNull();
  });

  it('is the interval after the last probe plus at most a tenth of it', () => {
    expect(nextProbeAt(1_000, 600_000, 0, 0)).toBe(601_000);
    expect(nextProbeAt(1_000, 600_000, 0, 0.999)).toBeLessThan(1_000 + 600_000 * 1.1);
    expect(nextProbeAt(1_000, 600_000, 0, 0.5)).toBe(1_000 + 600_000 + 30_000);
  });

  it('comes an interval after the start when never probed (a short-lived daemon contacts nothing)', () => {
    expect(nextProbeAt(null, 3_600_000, 5_000, 0)).toBe(3_605_000);
    expect(nextProbeAt(null, 3_000, 5_000, 1)).toBe(8_300);
  });
});

/** Instances probed for real timing, with a probe that takes `probeMs` and records its time. */
class Target implements ProbeTarget {
  readonly started: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly last = new Map<string, ProbeRecord>();

  constructor(
    private readonly list: ConnectorInstance[],
    private readonly probeMs: number,
    private readonly blocked = new Set<string>(),
  ) {}

  instances(): ConnectorInstance[] {
    return this.list;
  }
  probeable(instance: ConnectorInstance): boolean {
    return !this.blocked.has(instance.name);
  }
  lastProbe(instance: ConnectorInstance): ProbeRecord | null {
    return this.last.get(instance.name) ?? null;
  }
  async probe(instance: ConnectorInstance): Promise<void> {
    this.started.push(instance.name);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, this.probeMs));
    this.inFlight--;
    const at = new Date().toISOString();
    this.last.set(instance.name, {
      fingerprint: '',
      probe: { ok: true, detail: 'ok', at },
      failingSince: null,
      passedAt: at,
    });
  }
  refresh(): void {}
}

const instance = (name: string, probeMinutes?: number): ConnectorInstance => ({
  name,
  use: name,
  connector: fsOutbox,
  config: {},
  credentials: {},
  endpoints: [],
  ...(probeMinutes !== undefined ? { probeMinutes } : {}),
});

let schedule: ProbeSchedule | null = null;
afterEach(async () => {
  await schedule?.stop();
  schedule = null;
});

describe('the schedule', () => {
  it('probes due instances on its own, again after the interval, not those off or not probeable', async () => {
    const target = new Target(
      [instance('fast', 0.05), instance('off', 0), instance('untrusted', 0.05)],
      10,
      new Set(['untrusted']),
    );
    schedule = new ProbeSchedule(target, { onError: () => undefined, random: () => 0 });
    schedule.start();
    await waitFor('two probes of fast', () => (target.started.length >= 2 ? true : null), 10_000);
    expect(new Set(target.started)).toEqual(new Set(['fast']));
  }, 15_000);

  it('never overlaps a slow probe of the same instance', async () => {
    const target = new Target([instance('slow', 0.05)], 4_000);
    schedule = new ProbeSchedule(target, { onError: () => undefined, random: () => 0 });
    schedule.start();
    await waitFor('the first probe', () => (target.started.length >= 1 ? true : null), 5_000);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    schedule.wake();
    expect(target.started).toEqual(['slow']);
    expect(target.maxInFlight).toBe(1);
  }, 15_000);

  it('starts nothing after stop and waits for the probe under way', async () => {
    const target = new Target([instance('one', 0.05)], 300);
    schedule = new ProbeSchedule(target, { onError: () => undefined, random: () => 0 });
    schedule.start();
    await waitFor('a probe', () => (target.inFlight === 1 ? true : null), 5_000);
    await schedule.stop();
    expect(target.inFlight).toBe(0);
    const count = target.started.length;
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(target.started.length).toBe(count);
  }, 10_000);
});
