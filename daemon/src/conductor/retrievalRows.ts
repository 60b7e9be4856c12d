/**
 * The `retrievals` rows a journal's step ends project to: one per note (and version of it) a step
 * read, whatever the number of its chunks. The trace batch writes them and start-up recovery counts
 * them the same way, so a store behind its journals (or older than the table) is caught up.
 */
import type { JournalRecord, RecordOf } from './journalRecords';

/** run, step, path, blob (null: not known), at. */
export type RetrievalRow = [string, string, string, string | null, string];

export function retrievalRows(runId: string, end: RecordOf<'stepEnd'>): RetrievalRow[] {
  const seen = new Set<string>();
  const rows: RetrievalRow[] = [];
  for (const { path, blob } of end.retrieved) {
    const key = `${path}\u0000${blob ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push([runId, end.stepId, path, blob ?? null, end.at]);
  }
  return rows;
}

/** How many `retrievals` rows the journal's records project to. */
export function retrievalCount(records: readonly JournalRecord[]): number {
  let count = 0;
  for (const record of records) if (record.type === 'stepEnd') count += retrievalRows('', record).length;
  return count;
}
