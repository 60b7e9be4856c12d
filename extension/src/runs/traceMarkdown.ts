/**
 * A run's trace as a Markdown document: status, inputs, outputs, what went wrong, then every step
 * with its timings, tokens, cost, retrieved memory, prompts and output. Also returns where each
 * memory location sits in the text, so the editor can make it a link. Pure and unit-tested.
 */
import { describeRunbookVersion, type ModelCallInfo, type RunTrace, type StepTrace } from '@keel/schemas';
import { formatMs, formatUsd, runDurationMs, STATUS_ICONS, STATUS_LABELS } from './runList';
import { chatMessages, routeLines } from './timelineModel';

/**
 * A link in the trace, at 0-based line and columns of its text: a workspace location, or the
 * proposal the run waits for.
 */
export type TraceLink = { line: number; startColumn: number; endColumn: number } & (
  | { kind: 'file'; path: string; targetLine: number }
  | { kind: 'proposal'; proposalId: string }
  /** Another run's trace: the parent that handed off to this run, or a child it handed off to. */
  | { kind: 'run'; runId: string; runbook: string }
  /** A memory search over the notes as they were in git when the run started (for audits). */
  | { kind: 'memoryAsOf'; asOf: string }
);

/** The proposal a waiting run waits for, as far as it is known. */
export interface WaitingFor {
  id: string;
  summary: string | null;
  changes: { action: string; path: string }[];
}

export interface RenderedTrace {
  text: string;
  links: TraceLink[];
}

export interface RenderOptions {
  now: number;
  formatTime?: (iso: string) => string;
  live: boolean;
  /** Set when the run waits for the operator's approval. */
  waiting?: WaitingFor | null;
}

export function renderTrace(trace: RunTrace, options: RenderOptions): RenderedTrace {
  const out = new MarkdownWriter();
  const time = options.formatTime ?? ((iso: string) => new Date(iso).toLocaleString());
  const { run } = trace;
  out.line(`# Run of ${run.runbook}: ${STATUS_ICONS[run.status]} ${STATUS_LABELS[run.status]}`);
  out.line();
  if (options.live) out.line('_Live: this trace refreshes as the run goes on._').line();
  const rows: [string, string][] = [
    ['Run', `\`${run.id}\``],
    ['Runbook', describeRunbookVersion(trace.runbook)],
    ['Status', STATUS_LABELS[run.status]],
    ['Started', time(run.startedAt)],
    ['Ended', run.endedAt ? time(run.endedAt) : 'not yet'],
    ['Duration', formatMs(runDurationMs(run, options.now))],
    [
      'Steps',
      `${run.stepsDone} of ${run.stepsTotal} done${run.currentStep ? `, at ${run.currentStep}` : ''}`,
    ],
    ['Cost', `${formatUsd(run.costUsd)} (${run.tokens.toLocaleString('en-US')} tokens)`],
  ];
  for (const takeover of trace.takeovers ?? []) {
    const how = takeover.supplied ? ', with its output supplied by you' : '';
    rows.push(['Taken over', `${time(takeover.at)} from step ${takeover.fromStep}${how}`]);
  }
  for (const [label, value] of rows) out.line(`- **${label}:** ${value}`);
  if (run.parent) {
    out.runLine('- **Handed off by:** ', run.parent.runId, 'run', ` (its step ${run.parent.stepId})`);
  }
  if (run.waitingForRun) out.runLine('- **Waiting for its child run:** ', run.waitingForRun, 'run', '');
  out.memoryAsOfLine('- **Memory:** ', 'Search memory as of this run', run.startedAt);
  out.line();
  if (run.error) out.line('## Error').line().block(run.error, 'text');
  if (run.escalation) out.line('## Escalated to you').line().block(run.escalation, 'text');
  const routes = routeLines(trace, formatUsd);
  if (routes.length > 0) {
    out.line('## Model tiers').line();
    for (const line of routes) out.line(`- ${line}`);
    out.line();
  }
  if (trace.compensation) {
    out.line('## Compensation').line();
    for (const line of trace.compensation) out.line(`- ${compensationText(line)}`);
    out.line();
  }
  // Where the daemon names no waiting step, the run itself says what it waits for.
  if (options.waiting && !trace.steps.some((step) => step.status === 'waiting_approval')) {
    out.line('## Waiting for your approval').line();
    renderWaiting(out, options.waiting);
  }
  out.line('## Inputs').line().value(run.inputs);
  out.line('## Outputs').line();
  if (run.outputs === null) out.line('_None yet._').line();
  else out.value(run.outputs);
  out.line('## Steps').line();
  if (trace.steps.length === 0) out.line('_No step has started yet._').line();
  trace.steps.forEach((step, index) => renderStep(out, step, index, time, options.waiting ?? null));
  return { text: out.text(), links: out.links };
}

function renderStep(
  out: MarkdownWriter,
  step: StepTrace,
  index: number,
  time: (iso: string) => string,
  waiting: WaitingFor | null,
): void {
  const status =
    step.status === 'waiting_approval'
      ? 'waiting for approval'
      : step.status === 'waiting_operator'
        ? 'waiting at a checkpoint ("Keel: Answer Checkpoint…")'
        : step.supplied
          ? `${step.status} (output supplied by you)`
          : step.status;
  out.line(`### ${index + 1}. ${step.id} (${step.type}): ${status}`).line();
  const tokens = step.modelCalls.reduce((sum, c) => sum + c.inputTokens + c.outputTokens, 0);
  const cost = step.modelCalls.reduce((sum, c) => sum + c.costUsd, 0);
  const facts = [
    step.startedAt ? `started ${time(step.startedAt)}` : 'not started',
    step.durationMs !== null ? `took ${formatMs(step.durationMs)}` : null,
    step.modelCalls.length > 0
      ? `${step.modelCalls.length} model call(s), ${tokens.toLocaleString('en-US')} tokens, ${formatUsd(cost)}`
      : 'no model calls',
  ];
  out.line(`- ${facts.filter((f) => f !== null).join(' · ')}`).line();
  if (step.attempts) {
    out.line('**Attempts**').line();
    for (const tried of step.attempts) {
      out.line(`- ${tried.attempt}: ${tried.status}${tried.error ? `: ${tried.error}` : ''}`);
    }
    out.line();
  }
  if (step.error) out.line('**Error**').line().block(step.error, 'text');
  if (step.children) {
    out.line('**Handed off to**').line();
    for (const child of step.children) {
      const status = child.status ? STATUS_LABELS[child.status] : 'under way';
      out.runLine('- ', child.runId, child.runbook, ` (${child.runbook}): ${status}`);
    }
    out.line();
  }
  if (step.status === 'waiting_approval' && waiting) renderWaiting(out, waiting);
  if (step.retrieved.length > 0) {
    out.line('**Retrieved memory**').line();
    for (const chunk of step.retrieved) {
      const location = `${chunk.path}:${chunk.startLine}-${chunk.endLine}`;
      out.linkLine('- ', location, chunk.path, chunk.startLine, ` · score ${chunk.score.toFixed(3)}`);
    }
    out.line();
  }
  if (step.input !== null && step.input !== undefined) out.line('**Input**').line().value(step.input);
  step.modelCalls.forEach((call, i) => renderModelCall(out, call, i));
  if (step.output !== null && step.output !== undefined) out.line('**Output**').line().value(step.output);
}

function renderWaiting(out: MarkdownWriter, waiting: WaitingFor): void {
  out.line(`**Waiting for your approval:** ${waiting.summary ?? 'a proposed change'}`).line();
  for (const change of waiting.changes) out.line(`- ${change.action} \`${change.path}\``);
  out.proposalLine('- ', 'Open the proposed change', waiting.id, ' (Approve, Edit or Reject it there)');
  out.line();
}

function renderModelCall(out: MarkdownWriter, call: ModelCallInfo, index: number): void {
  out.line(
    `**Model call ${index + 1}**: ${call.tier} / ${call.model}, ${call.outcome}, attempt ${call.attempt}, ` +
      `${formatMs(call.latencyMs)}, ${call.inputTokens.toLocaleString('en-US')} in + ` +
      `${call.outputTokens.toLocaleString('en-US')} out tokens, ${formatUsd(call.costUsd)}`,
  );
  out.line();
  const messages = chatMessages(call.request);
  if (messages) {
    for (const message of messages)
      out.line(`_Prompt, ${message.role}:_`).line().block(message.content, 'text');
  } else {
    out.line('_Request:_').line().value(call.request);
  }
  out.line('_Response:_').line();
  const content = responseText(call.response);
  if (content !== null) out.block(content, 'text');
  else out.value(call.response);
}

function responseText(response: unknown): string | null {
  if (typeof response === 'string') return response;
  const content = (response as { content?: unknown } | null)?.content;
  const toolCalls = (response as { toolCalls?: unknown[] } | null)?.toolCalls;
  if (typeof content === 'string' && (!Array.isArray(toolCalls) || toolCalls.length === 0)) return content;
  return null;
}

class MarkdownWriter {
  private readonly lines: string[] = [];
  readonly links: TraceLink[] = [];

  line(text = ''): this {
    this.lines.push(...text.split('\n'));
    return this;
  }

  /** A line holding one linked location: `prefix location suffix`. */
  linkLine(prefix: string, location: string, path: string, targetLine: number, suffix: string): this {
    this.links.push({
      line: this.lines.length,
      startColumn: prefix.length,
      endColumn: prefix.length + location.length,
      kind: 'file',
      path,
      targetLine,
    });
    return this.line(`${prefix}${location}${suffix}`);
  }

  /** A line holding a link that opens a proposal: `prefix text suffix`. */
  /** A line whose `runId` part opens that run's trace. */
  runLine(prefix: string, runId: string, runbook: string, suffix: string): this {
    this.links.push({
      line: this.lines.length,
      startColumn: prefix.length,
      endColumn: prefix.length + runId.length,
      kind: 'run',
      runId,
      runbook,
    });
    return this.line(`${prefix}${runId}${suffix}`);
  }

  /** A line whose `text` part searches memory as it was in git at `asOf`. */
  memoryAsOfLine(prefix: string, text: string, asOf: string): this {
    this.links.push({
      line: this.lines.length,
      startColumn: prefix.length,
      endColumn: prefix.length + text.length,
      kind: 'memoryAsOf',
      asOf,
    });
    return this.line(`${prefix}${text}`);
  }

  proposalLine(prefix: string, text: string, proposalId: string, suffix: string): this {
    this.links.push({
      line: this.lines.length,
      startColumn: prefix.length,
      endColumn: prefix.length + text.length,
      kind: 'proposal',
      proposalId,
    });
    return this.line(`${prefix}${text}${suffix}`);
  }

  /** A fenced block that no backticks inside `content` can close early. */
  block(content: string, language: string): this {
    const longest = Math.max(0, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
    const fence = '`'.repeat(Math.max(3, longest + 1));
    return this.line(`${fence}${language}`).line(content).line(fence).line();
  }

  /** Text as text, anything else as JSON. */
  value(value: unknown): this {
    if (typeof value === 'string') return this.block(value, 'text');
    return this.block(JSON.stringify(value, null, 2) ?? 'null', 'json');
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** One undo as the trace tells it: the action, its key, and how compensation settled it. */
function compensationText(line: NonNullable<RunTrace['compensation']>[number]): string {
  const what = `${line.connector}.${line.action} (${line.key}, step ${line.stepId})`;
  switch (line.outcome) {
    case 'undone':
      return `${what}: undone by ${line.undo ?? '?'}`;
    case 'not_undoable':
      return `${what}: cannot be undone, needs you`;
    case 'needs_approval':
      return `${what}: its undo ${line.undo ?? '?'} was not run, needs you: ${line.detail ?? ''}`;
    case 'failed':
      return `${what}: undo failed, needs you: ${line.detail ?? ''}`;
  }
}
