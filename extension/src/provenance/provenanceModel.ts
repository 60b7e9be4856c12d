/**
 * Provenance as the editor shows it: the CodeLens title over a note, the quick pick of the runs
 * that used it, the dashboard's rows of possibly stale runs. Pure (no DOM, no VS Code), shared by
 * the extension host and the dashboard's browser script, and unit-tested. Note paths and summaries
 * come from the workspace (a cloned one may be hostile): they are plain text, control characters
 * replaced, and every renderer puts them in `textContent`, never in HTML or Markdown.
 */
// Types only: the dashboard's browser bundle must not pull in zod.
import type { MemoryWhyRequest, ResultOf, StaleRun } from '@keel/schemas';

type NoteWhy = ResultOf<typeof MemoryWhyRequest>;

/** Text from the workspace made safe to show as one line: control characters become `?`. */
export function plainText(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  const plain = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}

/** The runs that used the note, and those of them whose version of it has changed since. */
export function noteUsage(why: NoteWhy): { runs: number; stale: number } {
  const runs = new Map<string, boolean>();
  for (const use of why.runs) {
    // A run that also read the current version is not stale on this note.
    const stale = use.blob !== null && !use.current;
    runs.set(use.runId, (runs.get(use.runId) ?? true) && stale);
  }
  return { runs: runs.size, stale: [...runs.values()].filter(Boolean).length };
}

/** The CodeLens over a note: `Used by 3 runs (1 possibly stale)`, or null when no run used it. */
export function codeLensTitle(why: NoteWhy): string | null {
  const { runs, stale } = noteUsage(why);
  if (runs === 0) return null;
  const used = `Used by ${runs} run${runs === 1 ? '' : 's'}`;
  return stale > 0 ? `${used} (${stale} possibly stale)` : used;
}

export interface RunPickItem {
  runId: string;
  label: string;
  description: string;
  detail: string;
}

/** One quick-pick item per run that used the note, newest first; picking one opens its trace. */
export function runPickItems(why: NoteWhy, time: (iso: string) => string): RunPickItem[] {
  const seen = new Set<string>();
  const items: RunPickItem[] = [];
  for (const use of why.runs) {
    if (seen.has(use.runId)) continue;
    seen.add(use.runId);
    const uses = why.runs.filter((u) => u.runId === use.runId);
    const current = uses.some((u) => u.current);
    const version = use.blob ? use.blob.slice(0, 7) : 'an unknown version';
    items.push({
      runId: use.runId,
      label: `${current ? '$(check)' : '$(warning)'} ${plainText(use.runbook)}`,
      description: `${time(use.startedAt)} · ${use.status}`,
      detail: current
        ? `Read the note as it is now (${version}) in ${use.steps.join(', ')}`
        : `Possibly stale: read ${version}, the note has changed since`,
    });
  }
  return items;
}

export interface StaleRunRow {
  runId: string;
  /** `brief (started 3 Dec 10:02)`. */
  title: string;
  /** `Built on memory/customers/acme.md, changed since`; plain text. */
  detail: string;
  /** The Re-run button's accessible name. */
  rerunLabel: string;
  openLabel: string;
}

/** The dashboard's list of possibly stale runs, in words. */
export function staleRunRows(runs: readonly StaleRun[], time: (iso: string) => string): StaleRunRow[] {
  return runs.map((run) => {
    const runbook = plainText(run.runbook);
    const notes = run.notes.map((n) =>
      n.currentBlob === null ? `${plainText(n.path)} (deleted since)` : plainText(n.path),
    );
    const when = time(run.startedAt);
    return {
      runId: run.runId,
      title: `${runbook} (started ${when})`,
      detail: `Built on ${notes.join(', ')}, changed since.`,
      rerunLabel: `Re-run ${runbook} with the same inputs`,
      openLabel: `Open the trace of ${runbook}, started ${when}`,
    };
  });
}
