/**
 * The version of its runbook a run keeps: the text journaled when it started (with its git blob
 * id) is what resume and replay parse, never the file, which the operator may edit or delete
 * while the run waits. Journals from before Keel kept the text run the file, as they always did.
 */
import type { Runbook, RunbookVersion } from '@keel/schemas';
import type { RecordOf } from './journalRecords';
import type { RunbookCatalog } from './runbookCatalog';
import { parseRunbook } from './runbookFile';

/** Parsed runbooks by blob id: runs of one version share one parse. */
const parsed = new Map<string, Runbook>();
const PARSED_KEPT = 64;

/**
 * The runbook the run started with, from its journal; null for a journal that predates it.
 * Throws when the kept text no longer parses (a Keel that reads runbooks more strictly).
 */
export function recordedRunbook(run: RecordOf<'run'>): Runbook | null {
  const file = run.runbookFile;
  if (!file) return null;
  const known = parsed.get(file.blob);
  if (known) return known;
  const result = parseRunbook(file.text, file.path);
  if (!result.runbook) {
    const problem = result.problems[0];
    throw new Error(
      `the version of ${file.path} this run started with (${file.blob.slice(0, 7)}) no longer reads: ` +
        (problem ? `${problem.line}:${problem.column} ${problem.message}` : 'it does not parse'),
    );
  }
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
  parsed.set(file.blob, result.runbook);
  return result.runbook;
}

/** Which version the run keeps, and whether the file on disk is still that version. */
export async function runbookVersion(run: RecordOf<'run'>, catalog: RunbookCatalog): Promise<RunbookVersion> {
  const all = await catalog.list().catch(() => []);
  const path = run.runbookFile?.path ?? null;
  const now = all.find((r) => r.info.path === path) ?? all.find((r) => r.info.name === run.runbook);
  const blob = run.runbookFile?.blob ?? null;
  if (!now) return { path, blob, file: 'deleted' };
  const same = blob ? now.blob === blob : now.hash === run.runbookHash;
  return { path: path ?? now.info.path, blob, file: same ? 'unchanged' : 'changed' };
}
