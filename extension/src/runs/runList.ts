/**
 * The recent-runs list the sidebar shows, and the words and numbers it shows them with. Pure, shared
 * by the extension host and the sidebar's browser script, and unit-tested.
 */
// Types only: the sidebar's browser bundle must not pull in zod.
import type { RunStatus, RunSummary } from '@keel/schemas';

export const RECENT_RUNS = 50;

/** Most recent first; runs that started at the same instant keep a stable order by id. */
export function sortRuns(runs: readonly RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
}

/** The list after one run changed: replaced in place, or added; at most `limit` runs are kept. */
export function mergeRun(runs: readonly RunSummary[], run: RunSummary, limit = RECENT_RUNS): RunSummary[] {
  const rest = runs.filter((r) => r.id !== run.id);
  return sortRuns([run, ...rest]).slice(0, limit);
}

/**
 * Whether `a` describes a run at least as far along as `b` does. A run only moves forward (queued,
 * running, finished; steps and cost only grow), so this orders two reports of the same run whose
 * arrival order says nothing (a notification racing a list answer).
 */
export function isAtLeastAsRecent(a: RunSummary, b: RunSummary): boolean {
  const stage = (r: RunSummary): number =>
    r.status === 'queued' ? 0 : r.status === 'running' || isWaiting(r.status) ? 1 : 2;
  // A run taken over starts again: the report after more takeovers is the later one.
  if ((a.takeovers ?? 0) !== (b.takeovers ?? 0)) return (a.takeovers ?? 0) > (b.takeovers ?? 0);
  if (stage(a) !== stage(b)) return stage(a) > stage(b);
  if (a.stepsDone !== b.stepsDone) return a.stepsDone > b.stepsDone;
  return a.costUsd >= b.costUsd;
}

export function canCancel(status: RunStatus): boolean {
  return status === 'queued' || status === 'running' || isWaiting(status);
}

/** Waiting for the operator: a decision on a proposal, or an answer at a checkpoint. */
export function isWaiting(status: RunStatus): boolean {
  return status === 'waiting_approval' || status === 'waiting_operator';
}

/** Ended in a way the operator can take over from a step (see `keel resume RUN --from STEP`). */
export function canTakeOver(status: RunStatus): boolean {
  return status === 'failed' || status === 'cancelled' || status === 'budget_exceeded';
}

export const STATUS_LABELS: Record<RunStatus, string> = {
  queued: 'queued',
  running: 'running',
  waiting_approval: 'waiting for approval',
  waiting_operator: 'waiting at a checkpoint',
  succeeded: 'succeeded',
  failed: 'failed',
  budget_exceeded: 'over budget',
  cancelled: 'cancelled',
};

/** A symbol per status, always shown next to its word (colour alone says nothing to some people). */
export const STATUS_ICONS: Record<RunStatus, string> = {
  queued: '○',
  running: '◐',
  waiting_approval: '‖',
  waiting_operator: '⏸',
  succeeded: '✓',
  failed: '✕',
  budget_exceeded: '$',
  cancelled: '⊘',
};

/** US dollars, with enough digits that a cheap run does not read as free. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  if (usd < 0.0001) return '<$0.0001';
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

/** A run's duration so far (`now` while it is live). */
export function runDurationMs(run: RunSummary, now: number): number {
  const end = run.endedAt ? Date.parse(run.endedAt) : now;
  return Math.max(0, end - Date.parse(run.startedAt));
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1_000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
}

/** A run as the editor's quick picks list it: status and runbook, when it started, what it did. */
export function runPickItem(
  run: RunSummary,
  now: number,
): { label: string; description: string; detail: string; run: RunSummary } {
  return {
    label: `${STATUS_ICONS[run.status]} ${run.runbook}`,
    description: `${STATUS_LABELS[run.status]} · ${new Date(run.startedAt).toLocaleString()}`,
    detail: describeRun(run, now),
    run,
  };
}

/** One line a screen reader reads for a run: everything the row shows, in words. */
export function describeRun(run: RunSummary, now: number): string {
  const parts = [
    `${run.runbook} ${STATUS_LABELS[run.status]}`,
    run.parent ? `handed off by ${run.parent.runId}` : null,
    run.currentStep ? `step ${run.currentStep}` : null,
    `${run.stepsDone} of ${run.stepsTotal} steps`,
    formatUsd(run.costUsd),
    formatMs(runDurationMs(run, now)),
  ];
  return parts.filter((part) => part !== null).join(', ');
}
