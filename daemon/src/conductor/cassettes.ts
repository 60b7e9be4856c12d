/**
 * Cassettes from journals: every successful model exchange of a run, in order, as a file, each with
 * the settings it was sent with; labelled `live`, as it was recorded from the endpoint.
 */
import { SearchResult, type Cassette, type CassetteEntry } from '@keel/schemas';
import { expectOwnWrite } from '../files/ownWrites';
import type { JournalRecord } from './journalRecords';
import { absoluteIn, workspaceRelative, writeInside } from '../files/workspacePaths';

/** A child run's journal, for its parent's cassette: `scope` is the child's part of it. */
export interface ChildRecords {
  scope: string;
  records: readonly JournalRecord[];
}

/**
 * The cassette of a run and of its child runs (each under its scope), so the parent replays
 * with every hand-off offline.
 */
export function cassetteOf(
  runbook: string,
  records: readonly JournalRecord[],
  children: readonly ChildRecords[] = [],
): Cassette {
  const cassette = scopedCassette(runbook, records, undefined);
  for (const child of children) {
    const part = scopedCassette(runbook, child.records, child.scope);
    cassette.entries.push(...part.entries);
    cassette.retrievals.push(...part.retrievals);
  }
  // Recorded from the endpoint, so the models it reported are what answered (not only what was asked).
  const reportedModels = [...new Set(cassette.entries.map((entry) => entry.response.model))];
  const { entries, retrievals, ...head } = cassette;
  return { ...head, source: 'live', reportedModels, entries, retrievals };
}

function scopedCassette(
  runbook: string,
  records: readonly JournalRecord[],
  scope: string | undefined,
): Cassette {
  const within = scope === undefined ? {} : { scope };
  const entries: Cassette['entries'] = [];
  for (const record of records) {
    if (record.type !== 'modelCall' || record.outcome !== 'ok' || !record.response) continue;
    const tools = (record.request as { tools?: unknown } | null)?.tools;
    entries.push({
      ...within,
      stepId: record.stepId,
      call: record.call,
      requestHash: record.requestHash,
      ...(record.promptHash === undefined ? {} : { promptHash: record.promptHash }),
      ...(record.settings === undefined ? {} : { settings: record.settings }),
      ...(Array.isArray(tools) && tools.length > 0 ? { tools: tools as CassetteEntry['tools'] } : {}),
      response: record.response,
    });
  }
  const retrievals: Cassette['retrievals'] = [];
  for (const record of records) {
    if (record.type !== 'stepStart' || record.stepType !== 'retrieve') continue;
    const end = records.find(
      (r) => r.type === 'stepEnd' && r.stepId === record.stepId && r.status === 'succeeded',
    );
    const query = (record.input as { query?: unknown } | null)?.query;
    const results = SearchResult.unwrap()
      .array()
      .safeParse(end?.type === 'stepEnd' ? end.output : null);
    if (typeof query === 'string' && results.success)
      retrievals.push({ ...within, stepId: record.stepId, query, results: results.data });
  }
  return { version: 1, runbook, recordedAt: new Date().toISOString(), entries, retrievals };
}

/** Writes the run's cassette to a workspace-relative path (atomically). */
export async function writeCassette(
  workspace: string,
  path: string,
  records: readonly JournalRecord[],
  children: readonly ChildRecords[] = [],
): Promise<string> {
  const relative = workspaceRelative(path);
  const run = records[0];
  const cassette = cassetteOf(run?.type === 'run' ? run.runbook : 'unknown', records, children);
  const text = JSON.stringify(cassette, null, 2) + '\n';
  expectOwnWrite(absoluteIn(workspace, relative), text);
  await writeInside(workspace, relative, text);
  return relative;
}
