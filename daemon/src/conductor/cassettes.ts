/** Cassettes from journals: every successful model exchange of a run, in order, as a file. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Cassette } from '@keel/schemas';
import type { JournalRecord } from './journalRecords';
import { absoluteIn, workspaceRelative } from './workspacePaths';

export function cassetteOf(runbook: string, records: readonly JournalRecord[]): Cassette {
  const entries: Cassette['entries'] = [];
  for (const record of records) {
    if (record.type !== 'modelCall' || record.outcome !== 'ok' || !record.response) continue;
    entries.push({
      stepId: record.stepId,
      call: record.call,
      requestHash: record.requestHash,
      response: record.response,
    });
  }
  return { version: 1, runbook, recordedAt: new Date().toISOString(), entries };
}

/** Writes the run's cassette to a workspace-relative path (atomically). */
export async function writeCassette(
  workspace: string,
  path: string,
  records: readonly JournalRecord[],
): Promise<string> {
  const relative = workspaceRelative(path);
  const target = absoluteIn(workspace, relative);
  const run = records[0];
  const cassette = cassetteOf(run?.type === 'run' ? run.runbook : 'unknown', records);
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(cassette, null, 2) + '\n');
  await rename(temp, target);
  return relative;
}
