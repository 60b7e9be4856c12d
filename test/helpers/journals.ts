/** A run journal's first record, as tests write journals Keel sealed (or forged ones) by hand. */
import type { RecordOf } from '../../daemon/src/conductor/journalRecords';

export function runRecord(id: string): RecordOf<'run'> {
  return {
    type: 'run',
    version: 1,
    id,
    runbook: 'hello',
    runbookHash: 'x',
    inputs: {},
    recordCassette: null,
    replayCassette: null,
    at: '2026-01-01T00:00:00.000Z',
  };
}
