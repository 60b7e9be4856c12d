/**
 * Each connector instance's last drift probe, kept in `.keel/probes.json` (sealed like every
 * record under `.keel/` that changes what Keel does): a failed probe opens the instance's breaker,
 * and a restart must still know it, or a daemon restarted during an outage would send actions to
 * a server whose answers no longer match what the connector expects.
 */
import { join } from 'node:path';
import type { BreakerState, ConnectorProbeInfo } from '@keel/schemas';
import { readSealedState, writeSealedState } from '../runtime/sealedState';
import { StateSeal } from '../runtime/stateKey';

/** One instance's last probe, with the settings it ran under. */
export interface ProbeRecord {
  /** The settings the probe ran with: a keel.yaml edit of them makes it old news. */
  fingerprint: string;
  probe: ConnectorProbeInfo;
  /** When the failure that opened the breaker was first seen (the outage's start), or null. */
  failingSince: string | null;
  /** When a probe last passed, or null. */
  passedAt: string | null;
}

/** A version or banner a server chose: plain text on one line, at most this long. */
export const MAX_VERSION_CHARS = 200;
/** A probe's detail as shown and stored: at most this long. */
export const MAX_DETAIL_CHARS = 2_000;

export class ProbeRecords {
  /** The write under way, if any: the next one starts after it. */
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string | null,
    private readonly sealer: StateSeal | null,
    private readonly records: Map<string, ProbeRecord>,
  ) {}

  /** Only in memory: where nothing of the workspace is kept (tests of the status alone). */
  static inMemory(): ProbeRecords {
    return new ProbeRecords(null, null, new Map());
  }

  /** The records of the workspace; a file Keel did not seal is quarantined and reads as none. */
  static async load(workspace: string, warn: (message: string) => void): Promise<ProbeRecords> {
    const path = join(workspace, '.keel', 'probes.json');
    const sealer = new StateSeal(workspace);
    const opened = await readSealedState(
      workspace,
      path,
      'probes',
      sealer,
      { holds: 'connector probe results', without: 'every connector counts as unchecked until probed' },
      warn,
    );
    const records = new Map<string, ProbeRecord>();
    const stored = (opened?.records ?? {}) as Record<string, ProbeRecord>;
    for (const [name, record] of Object.entries(stored)) {
      if (typeof record?.fingerprint === 'string' && typeof record.probe?.ok === 'boolean') {
        records.set(name, record);
      }
    }
    return new ProbeRecords(path, sealer, records);
  }

  /** The instance's last probe under these settings, or null (never probed, or keel.yaml changed). */
  get(name: string, fingerprint: string): ProbeRecord | null {
    const record = this.records.get(name);
    return record && record.fingerprint === fingerprint ? record : null;
  }

  /** Records a probe's result and writes the file whole; a failure keeps the outage's start. */
  async record(name: string, fingerprint: string, probe: ConnectorProbeInfo): Promise<void> {
    const before = this.get(name, fingerprint);
    this.records.set(name, {
      fingerprint,
      probe,
      failingSince: probe.ok ? null : (before?.failingSince ?? probe.at),
      passedAt: probe.ok ? probe.at : (before?.passedAt ?? null),
    });
    // One write at a time, each of the records as they are when it starts: two probes ending
    // together could otherwise rename an older copy over a newer one (and lose a failed probe).
    const written = this.writes.then(() => this.write());
    this.writes = written.catch(() => undefined);
    await written;
  }

  private async write(): Promise<void> {
    if (!this.path || !this.sealer) return;
    await writeSealedState(this.path, 'probes', this.sealer, {
      version: 1,
      records: Object.fromEntries(this.records),
    });
  }
}

/** The breaker of an instance as governance shows it (`connector:<name>`), from its last probe. */
export function probeBreaker(name: string, record: ProbeRecord | null): BreakerState {
  const open = record !== null && !record.probe.ok;
  return {
    name: `connector:${name}`,
    state: open ? 'open' : 'closed',
    failures: open ? 1 : 0,
    // No cool-down: a probe that passes closes it (scheduled, or "keel connectors check").
    retryAt: null,
    succeededAt: record?.passedAt ?? null,
    reason: open ? `probe failed at ${record.probe.at}: ${record.probe.detail}` : null,
  };
}

/**
 * Why an action of this instance is refused now, or null: its breaker is open. Names the probe,
 * its detail, when it ran, and how to try again.
 */
export function probeRefusal(name: string, use: string, record: ProbeRecord | null): string | null {
  if (!record || record.probe.ok) return null;
  return (
    `the connector "${name}" (${use}) is refused: its drift probe failed at ${record.probe.at} ` +
    `(${record.probe.detail}), so its circuit breaker is open. Fix the cause, then run ` +
    `"keel connectors check ${name}"; a passing probe (or the next scheduled one) closes it.`
  );
}

/** A server's own words (a banner, a version) as plain text: one line, no control characters, bounded. */
export function plainText(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is cut out
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g, ' ');
  const trimmed = flat.replace(/\s+/g, ' ').trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}
