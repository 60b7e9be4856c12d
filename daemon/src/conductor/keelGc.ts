/**
 * `keel gc`: keeps `.keel/` bounded. Journals of runs finished longer ago than
 * `retention.keel.runs` and proposals decided longer ago than `retention.keel.proposals` are
 * listed with their sizes and, on `apply`, freed. A freed run's summary is archived in the run
 * store first, so it still lists in `keel runs` and counts in `keel report`. Cassettes no runbook
 * test names are listed too, but never deleted: they sit in runbooks/tests/, the operator's files
 * in git, which Keel changes only on the operator's decision.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import {
  durationMs,
  FINISHED_RUN_STATUSES,
  type GcItem,
  type Proposal,
  type RunSummary,
  type WorkspaceConfig,
} from '@keel/schemas';
import { journalPath } from './journal';

export interface GcHost {
  workspace: string;
  runsDir: string;
  config: WorkspaceConfig;
  /** Runs not under way, by id. */
  finished: Map<string, RunSummary>;
  approvals: {
    list(): Proposal[];
    fileOf(id: string): string;
    forget(ids: readonly string[]): Promise<void>;
  };
  traces: { archiveRuns(summaries: readonly RunSummary[]): Promise<void> };
}

/** What gc would free now (and the cassettes it only lists). */
export async function planGc(host: GcHost, now: Date): Promise<GcItem[]> {
  const { runs, proposals } = host.config.retention.keel;
  const items: GcItem[] = [];
  const runsBefore = now.getTime() - durationMs(runs);
  for (const run of host.finished.values()) {
    if (!FINISHED_RUN_STATUSES.includes(run.status) || run.endedAt === null) continue;
    if (Date.parse(run.endedAt) >= runsBefore) continue;
    const file = journalPath(host.runsDir, run.id);
    const bytes = await sizeOf(file);
    if (bytes === null) continue; // archived already
    items.push({
      kind: 'journal',
      id: run.id,
      path: relative(host.workspace, file),
      bytes,
      reason: `run ${run.status} ${run.endedAt.slice(0, 10)}, older than ${runs}`,
      freeable: true,
    });
  }
  const proposalsBefore = now.getTime() - durationMs(proposals);
  const active = new Set([...host.finished.keys()]);
  for (const proposal of host.approvals.list()) {
    if (proposal.status !== 'applied' && proposal.status !== 'rejected') continue;
    const at = proposal.decision?.at ?? proposal.createdAt;
    // A run still under way may read its decision again: its proposals stay.
    if (Date.parse(at) >= proposalsBefore || !isFinishedOrNotRun(proposal.runId, active)) continue;
    const file = host.approvals.fileOf(proposal.id);
    const bytes = await sizeOf(file);
    if (bytes === null) continue;
    items.push({
      kind: 'proposal',
      id: proposal.id,
      path: relative(host.workspace, file),
      bytes,
      reason: `${proposal.status} ${at.slice(0, 10)}, older than ${proposals}`,
      freeable: true,
    });
  }
  items.push(...(await unreferencedCassettes(host.workspace, host.config.runbooks.dir)));
  return items;
}

/** Frees the freeable items: run summaries archived first, then journals deleted, then proposals. */
export async function applyGc(host: GcHost, items: readonly GcItem[]): Promise<void> {
  const journals = items.filter((i) => i.kind === 'journal' && i.freeable);
  const summaries = journals.map((i) => host.finished.get(i.id)).filter((s) => s !== undefined);
  await host.traces.archiveRuns(summaries);
  for (const item of journals) await rm(journalPath(host.runsDir, item.id), { force: true });
  await host.approvals.forget(items.filter((i) => i.kind === 'proposal' && i.freeable).map((i) => i.id));
}

/** Proposals of the expiry job have no run; a run's proposal goes only once the run finished. */
function isFinishedOrNotRun(runId: string, finished: ReadonlySet<string>): boolean {
  return finished.has(runId) || runId.startsWith('retention-');
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** `.json` files under `<runbooks>/tests/` that no `*.test.yaml` names as its `cassette`. */
async function unreferencedCassettes(workspace: string, runbooksDir: string): Promise<GcItem[]> {
  const testsDir = join(workspace, runbooksDir, 'tests');
  const files = await filesUnder(testsDir);
  const referenced = new Set<string>();
  for (const file of files.filter((f) => /\.test\.ya?ml$/.test(f))) {
    let value: unknown;
    try {
      value = parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    const cases = (value as { cases?: { cassette?: unknown }[] } | null)?.cases ?? [];
    for (const testCase of Array.isArray(cases) ? cases : []) {
      if (typeof testCase?.cassette === 'string') referenced.add(join(file, '..', testCase.cassette));
    }
  }
  const items: GcItem[] = [];
  for (const file of files.filter((f) => f.endsWith('.json') && !referenced.has(f))) {
    items.push({
      kind: 'cassette',
      id: relative(workspace, file),
      path: relative(workspace, file),
      bytes: (await sizeOf(file)) ?? 0,
      reason: 'no runbook test names it; it is yours (in git): delete it yourself if you do not need it',
      freeable: false,
    });
  }
  return items;
}

/** Regular files under a folder, links not followed. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}
