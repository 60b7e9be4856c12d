/**
 * Where each connector's event source has read up to: `.keel/event-cursors.json`, written
 * atomically and sealed (runtime/stateKey) like the schedules' slots, so a cursor forged in a
 * cloned repository is quarantined and the source starts from now instead of replaying old mail.
 * A cursor belongs to the connector's settings it was read with: a changed account starts afresh.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readSealedState, writeSealedState } from '../runtime/sealedState';
import { canonicalJson, StateSeal } from '../runtime/stateKey';

interface CursorRecord {
  /** Hash of the connector id and settings the cursor was read with. */
  settings: string;
  cursor: string;
  savedAt: string;
}

export class EventCursors {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly records: Map<string, CursorRecord>,
    private readonly sealer: StateSeal,
  ) {}

  static async load(workspace: string, warn: (message: string) => void): Promise<EventCursors> {
    const path = join(workspace, '.keel', 'event-cursors.json');
    const sealer = new StateSeal(workspace);
    const records = new Map<string, CursorRecord>();
    const opened = await readSealedState(
      workspace,
      path,
      'eventCursors',
      sealer,
      { holds: 'event cursors', without: 'event sources start from now' },
      warn,
    );
    const cursors = (opened?.cursors ?? {}) as Record<string, Partial<CursorRecord>>;
    for (const [key, record] of Object.entries(cursors)) {
      if (typeof record.cursor === 'string' && typeof record.settings === 'string') {
        records.set(key, record as CursorRecord);
      }
    }
    return new EventCursors(path, records, sealer);
  }

  /** The cursor of this connector, or null when none was kept for these settings (start from now). */
  get(connector: string, settings: string): string | null {
    const record = this.records.get(connector);
    return record?.settings === settings ? record.cursor : null;
  }

  /** Keeps the cursor durably (fsync, rename) before it resolves; saves run one after another. */
  set(connector: string, settings: string, cursor: string): Promise<void> {
    this.records.set(connector, { settings, cursor, savedAt: new Date().toISOString() });
    const saving = this.chain.then(() => this.save());
    this.chain = saving.catch(() => undefined);
    return saving;
  }

  private save(): Promise<void> {
    const state = { version: 1, cursors: Object.fromEntries(this.records) };
    return writeSealedState(this.path, 'eventCursors', this.sealer, state);
  }
}

/** The identity of a connector's settings, which a cursor is kept for. */
export function settingsHash(connectorId: string, config: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson([connectorId, config]))
    .digest('hex')
    .slice(0, 16);
}
