/**
 * Provenance and impact of notes: which runs read a note and which version of it (git's blob id,
 * as journaled by the retrieve step and the agent's memory tools), the changes those runs led to
 * or made to it, and the runs whose outputs were built on a version that has changed since.
 * The journals (through the trace store) say what was read; the file on disk says what is current.
 */
import type { NoteChange, NoteUse, Proposal, RunStatus, RunSummary, StaleRun } from '@keel/schemas';
import { OperatorError } from '../errors';
import { gitBlobId } from '../files/gitBlob';
import { readInside, workspaceRelative, WorkspacePathError } from '../files/workspacePaths';
import type { RetrievalUse } from '../conductor/traceStore';

/** What provenance reads: narrow, so it needs no conductor to be tested or reused. */
export interface ProvenancePort {
  workspace: string;
  retrievals(path?: string): Promise<RetrievalUse[]>;
  runs(): RunSummary[];
  proposals(): Proposal[];
  runRecord(id: string): Promise<{ runbook: string; inputs: Record<string, unknown> }>;
}

/** Runs whose outputs can be stale: they produced something (or wait to). Failed runs did not. */
const PRODUCING: readonly RunStatus[] = ['succeeded', 'waiting_approval', 'waiting_operator'];

export interface NoteWhy {
  path: string;
  blob: string | null;
  runs: NoteUse[];
  changes: NoteChange[];
}

/**
 * A note's path made workspace-relative and checked (no escape, no `.git/`, no link at any level),
 * with its blob id on disk now (null: it does not exist, but runs may still have read it).
 */
export async function currentNote(
  workspace: string,
  path: string,
): Promise<{ path: string; blob: string | null }> {
  try {
    const relative = workspaceRelative(path);
    const content = await readInside(workspace, relative);
    return { path: relative, blob: content ? gitBlobId(content) : null };
  } catch (error) {
    if (error instanceof WorkspacePathError) throw new OperatorError(error.message);
    throw error;
  }
}

/** `keel why PATH`: the runs that read the note, newest first, and the changes linked to it. */
export async function whyNote(port: ProvenancePort, path: string): Promise<NoteWhy> {
  const note = await currentNote(port.workspace, path);
  const summaries = new Map(port.runs().map((run) => [run.id, run]));
  const runs: NoteUse[] = [];
  for (const use of await port.retrievals(note.path)) {
    const run = summaries.get(use.runId);
    if (!run) continue;
    runs.push({
      runId: run.id,
      runbook: run.runbook,
      status: run.status,
      startedAt: run.startedAt,
      readAt: use.at,
      steps: use.steps,
      blob: use.blob,
      current: use.blob !== null && use.blob === note.blob,
    });
  }
  const users = new Set(runs.map((r) => r.runId));
  const changes: NoteChange[] = [];
  for (const proposal of port.proposals()) {
    if (proposal.status === 'rejected') continue;
    const changesNote = proposal.changes.some((change) => change.path === note.path);
    if (!changesNote && !users.has(proposal.runId)) continue;
    changes.push({
      proposalId: proposal.id,
      runId: proposal.runId,
      runbook: proposal.runbook,
      summary: proposal.summary,
      status: proposal.status,
      commit: proposal.decision?.commit ?? null,
      relation: changesNote ? 'changed' : 'produced',
    });
  }
  return { ...note, runs, changes };
}

/**
 * The runs possibly stale, newest first: a run that produced something from a version of a note
 * that is no longer the one on disk. A run is no longer listed once a later run of the same
 * runbook with the same inputs exists: that re-run read the notes as they are.
 */
export async function staleRuns(port: ProvenancePort): Promise<StaleRun[]> {
  const summaries = new Map(port.runs().map((run) => [run.id, run]));
  const current = new Map<string, string | null | undefined>();
  const currentBlob = async (path: string): Promise<string | null | undefined> => {
    if (!current.has(path)) {
      // A path that cannot be read safely (a link planted since) says nothing about staleness.
      current.set(
        path,
        await currentNote(port.workspace, path).then(
          (n) => n.blob,
          () => undefined,
        ),
      );
    }
    return current.get(path);
  };
  const reads = new Map<string, RetrievalUse[]>();
  for (const use of await port.retrievals()) {
    if (!PRODUCING.includes(summaries.get(use.runId)?.status ?? 'failed')) continue;
    reads.set(use.runId, [...(reads.get(use.runId) ?? []), use]);
  }
  const stale: StaleRun[] = [];
  for (const [runId, uses] of reads) {
    const notes: StaleRun['notes'] = [];
    for (const use of uses) {
      if (use.blob === null) continue;
      const now = await currentBlob(use.path);
      // Read again at the current version in the same run: that note is not stale for it.
      const readCurrent = uses.some((u) => u.path === use.path && u.blob === now);
      if (now === undefined || now === use.blob || readCurrent) continue;
      if (!notes.some((n) => n.path === use.path && n.blob === use.blob))
        notes.push({ path: use.path, blob: use.blob, currentBlob: now });
    }
    const run = summaries.get(runId)!;
    if (notes.length > 0)
      stale.push({ runId, runbook: run.runbook, status: run.status, startedAt: run.startedAt, notes });
  }
  const superseded = await supersededRuns(port, stale, [...summaries.values()]);
  return stale
    .filter((run) => !superseded.has(run.runId))
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
}

/** The candidates a later run of the same runbook with the same inputs supersedes (a re-run). */
async function supersededRuns(
  port: ProvenancePort,
  candidates: readonly StaleRun[],
  all: readonly RunSummary[],
): Promise<Set<string>> {
  const keys = new Map<string, string | null>();
  const keyOf = async (id: string): Promise<string | null> => {
    if (!keys.has(id)) {
      const run = await port.runRecord(id).catch(() => null);
      keys.set(id, run ? `${run.runbook}\u0000${canonicalJson(run.inputs)}` : null);
    }
    return keys.get(id)!;
  };
  const superseded = new Set<string>();
  for (const candidate of candidates) {
    const key = await keyOf(candidate.runId);
    const later = all.filter((r) => r.runbook === candidate.runbook && r.startedAt > candidate.startedAt);
    for (const run of later) {
      if (key !== null && (await keyOf(run.id)) === key) {
        superseded.add(candidate.runId);
        break;
      }
    }
  }
  return superseded;
}

/** JSON with object keys sorted: equal inputs give equal text whatever their order. */
function canonicalJson(value: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
}
