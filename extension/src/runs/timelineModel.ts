/**
 * The run timeline's layout and summaries, pure so both the webview and the tests use them: which
 * steps ran side by side (rows of lanes), what a step's model calls add up to, and which marks
 * (retried, escalated, handed off, supplied) a step carries.
 */
import type { ModelCallInfo, RunTrace, StepTrace } from '@keel/schemas';

/** One row of the timeline: its steps ran at the same time, one lane each (one lane: no overlap). */
export interface TimelineRow {
  lanes: StepTrace[];
}

/**
 * Groups steps that ran at overlapping times into rows, in the order they started; a step still
 * running overlaps everything that starts after it. Steps not started yet follow, one row each, in
 * the runbook's order. Overlap is transitive: A with B and B with C make one row of three lanes.
 */
export function timelineRows(steps: readonly StepTrace[]): TimelineRow[] {
  const started = steps
    .map((step, index) => ({ step, index, start: time(step.startedAt), end: time(step.endedAt) }))
    .filter((s): s is typeof s & { start: number } => s.start !== null)
    .sort((a, b) => a.start - b.start || a.index - b.index);
  const rows: TimelineRow[] = [];
  let rowEnd = -Infinity;
  for (const { step, start, end } of started) {
    const current = rows.at(-1);
    const stepEnd = end ?? Infinity;
    // Touching ends (one ends the millisecond the next starts) are a sequence, not parallel.
    if (current && start < rowEnd) {
      current.lanes.push(step);
      rowEnd = Math.max(rowEnd, stepEnd);
    } else {
      rows.push({ lanes: [step] });
      rowEnd = stepEnd;
    }
  }
  for (const step of steps) if (time(step.startedAt) === null) rows.push({ lanes: [step] });
  return rows;
}

function time(iso: string | null): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** What a step's model calls add up to, for its one-line summary. */
export interface ModelCallSummary {
  calls: number;
  /** Calls that did not answer (`http_429`, `timeout`...) before one that did. */
  failedCalls: number;
  tokens: number;
  costUsd: number;
  latencyMs: number;
  /** The models used, `tier/model`, each once, in order of first use. */
  models: string[];
}

export function summarizeModelCalls(calls: readonly ModelCallInfo[]): ModelCallSummary {
  const models: string[] = [];
  for (const call of calls) {
    const name = `${call.tier}/${call.model}`;
    if (!models.includes(name)) models.push(name);
  }
  return {
    calls: calls.length,
    failedCalls: calls.filter((c) => c.outcome !== 'ok' && c.outcome !== 'replayed').length,
    tokens: calls.reduce((sum, c) => sum + c.inputTokens + c.outputTokens, 0),
    costUsd: calls.reduce((sum, c) => sum + c.costUsd, 0),
    latencyMs: calls.reduce((sum, c) => sum + c.latencyMs, 0),
    models,
  };
}

export type StepMark =
  'retried' | 'escalated' | 'stronger tier' | 'handed off' | 'supplied by you' | 'taken over';

/** The badges a step carries: tried more than once, escalated to the operator, and so on. */
export function stepMarks(step: StepTrace, trace: RunTrace): StepMark[] {
  const marks: StepMark[] = [];
  const retried = (step.attempts?.length ?? 0) > 1 || step.modelCalls.some((call) => call.attempt > 1);
  if (retried) marks.push('retried');
  const escalated =
    step.status === 'waiting_operator' ||
    (trace.run.escalation !== null &&
      trace.run.escalation !== undefined &&
      trace.run.currentStep === step.id);
  if (escalated) marks.push('escalated');
  if ((trace.escalations ?? []).some((e) => e.stepId === step.id)) marks.push('stronger tier');
  if ((step.children?.length ?? 0) > 0) marks.push('handed off');
  if (step.supplied) marks.push('supplied by you');
  if ((trace.takeovers ?? []).some((t) => t.fromStep === step.id)) marks.push('taken over');
  return marks;
}

/**
 * How a routed run chose its model tiers, one line each: the run's route, each step's own route,
 * and every escalation of a step to the next tier with what each tier cost. Empty when unrouted.
 */
export function routeLines(trace: RunTrace, usd: (value: number) => string): string[] {
  const lines: string[] = [];
  if (trace.run.route) lines.push(`The run: ${trace.run.route.reason}`);
  for (const step of trace.steps) if (step.route) lines.push(`Step ${step.id}: ${step.route.reason}`);
  for (const e of trace.escalations ?? []) {
    lines.push(
      `Step ${e.stepId} went from tier ${e.fromTier} (${usd(e.fromCostUsd)}) to ${e.toTier} (${usd(e.toCostUsd)}): ${e.reason}`,
    );
  }
  return lines;
}

/** The chat messages of an OpenAI-style request, when it has that shape. */
export function chatMessages(request: unknown): { role: string; content: string }[] | null {
  const messages = (request as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return null;
  const parsed = messages.map((m: unknown) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') return null;
    return { role, content: typeof content === 'string' ? content : JSON.stringify(content, null, 2) };
  });
  return parsed.every((m) => m !== null) ? parsed : null;
}
