/**
 * Where each connector's event source has read up to: `.keel/event-cursors.json`, written
 * atomically and sealed (runtime/stateKey) like the schedules' slots, so a cursor forged in a
 * cloned repository is quarantined and the source starts from now instead of replaying old mail.
 * A cursor belongs to the connector's settings it was read with: a changed account starts afresh.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalJson, NotAPlainFileError, quarantine, readStateFile, StateSeal } from '../runtime/stateKey';

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
    const text = await readStateFile(path).catch((error: Error) => {
      if (error instanceof NotAPlainFileError) return '';
      throw error;
    });
    if (text !== null) {
      let opened: Record<string, unknown> | null = null;
      try {
        opened = sealer.openObject('eventCursors', JSON.parse(text));
      } catch {
        // Not JSON: quarantined below like any other file Keel did not write.
      }
      if (!opened) {
        const moved = await quarantine(workspace, path, 'Not event cursors Keel wrote: no valid seal.');
        warn(
          `${path} was not used: it carries no valid seal (written by hand, cloned with the repository, or ` +
            `by an older Keel). It was moved to ${moved ?? 'quarantine'}; event sources start from now.`,
        );
      }
      const cursors = (opened?.cursors ?? {}) as Record<string, Partial<CursorRecord>>;
      for (const [key, record] of Object.entries(cursors)) {
        if (typeof record.cursor === 'string' && typeof record.settings === 'string') {
          records.set(key, record as CursorRecord);
        }
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

  private async save(): Promise<void> {
    const state = { version: 1, cursors: Object.fromEntries(this.records) };
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`;
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify(this.sealer.sealObject('eventCursors', state), null, 2) + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, this.path).catch(async (error: unknown) => {
      await rm(temp, { force: true });
      throw error;
    });
  }
}

/** The identity of a connector's settings, which a cursor is kept for. */
export function settingsHash(connectorId: string, config: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson([connectorId, config]))
    .digest('hex')
    .slice(0, 16);
}
