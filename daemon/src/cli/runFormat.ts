/** How runs read in a terminal. */
import { describeRunbookVersion, type RunSummary, type RunTrace } from '@keel/schemas';
import { formatDuration } from './format';

export function describeRun(run: RunSummary): string {
  const lines = [
    `${run.id}  ${run.runbook}  ${run.status}  ${run.stepsDone}/${run.stepsTotal} steps  ${usd(run.costUsd)}  ${run.tokens} tokens  ${duration(run)}`,
  ];
  if (run.parent) lines.push(`  handed off by run ${run.parent.runId} (step ${run.parent.stepId})`);
  if (run.waitingForRun) lines.push(`  waits for its child run ${run.waitingForRun}`);
  if (run.route) lines.push(`  routed to ${run.route.reason}`);
  if (run.error) lines.push(`  ${run.error}`);
  if (run.escalation) lines.push(`  escalated: ${run.escalation}`);
  for (const [name, value] of Object.entries(run.outputs ?? {})) {
    lines.push(`  ${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return lines.join('\n');
}

export function runsTable(runs: RunSummary[]): string {
  const rows = runs.map((r) => [
    r.id,
    // A child run: handed off by another run (keel show tells which).
    r.parent ? `↳ ${r.runbook}` : r.runbook,
    r.status,
    `${r.stepsDone}/${r.stepsTotal}`,
    usd(r.costUsd),
    duration(r),
  ]);
  const header = ['RUN', 'RUNBOOK', 'STATUS', 'STEPS', 'COST', 'TIME'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function describeTrace(trace: RunTrace): string {
  const lines = [
    describeRun(trace.run),
    `  inputs: ${JSON.stringify(trace.run.inputs)}`,
    `  runbook: ${describeRunbookVersion(trace.runbook)}`,
    // For audits: what memory held when the run started (its answer names the commit it read).
    `  memory then: keel search --as-of ${trace.run.startedAt} "QUERY"`,
    ...(trace.takeovers ?? []).map(
      (t) =>
        `  taken over ${t.at} from step "${t.fromStep}"${t.supplied ? ', its output supplied by hand' : ''}`,
    ),
    '',
  ];
  for (const step of trace.steps) {
    const calls = step.modelCalls;
    const tokens = calls.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0);
    const cost = calls.reduce((n, c) => n + c.costUsd, 0);
    lines.push(
      `● ${step.id} (${step.type}) ${step.status}` +
        (step.supplied ? ' (output supplied by the operator)' : '') +
        (step.durationMs !== null ? `  ${formatDuration(step.durationMs, true)}` : '') +
        (calls.length ? `  ${calls.length} model call(s), ${tokens} tokens, ${usd(cost)}` : ''),
    );
    if (step.route) lines.push(`    routed to ${step.route.reason}`);
    for (const tried of step.attempts ?? []) {
      lines.push(
        `    attempt ${tried.attempt}: ${tried.status}${tried.error ? ` (${clip(tried.error)})` : ''}`,
      );
    }
    for (const child of step.children ?? []) {
      lines.push(`    child run ${child.runId} (${child.runbook}): ${child.status ?? 'under way'}`);
    }
    for (const call of calls) {
      lines.push(
        `    model ${call.model} (${call.tier}) attempt ${call.attempt}: ${call.outcome}, ${Math.round(call.latencyMs)} ms`,
      );
    }
    for (const chunk of step.retrieved)
      lines.push(`    read ${chunk.path}:${chunk.startLine}-${chunk.endLine}`);
    if (step.input !== null) lines.push(`    input: ${clip(JSON.stringify(step.input))}`);
    if (step.output !== null)
      lines.push(
        `    output: ${clip(typeof step.output === 'string' ? step.output : JSON.stringify(step.output))}`,
      );
    if (step.error) lines.push(`    error: ${step.error}`);
  }
  for (const e of trace.escalations ?? []) {
    lines.push(
      `  ⇡ ${e.stepId} escalated from tier ${e.fromTier} (${usd(e.fromCostUsd)}) to ${e.toTier} (${usd(e.toCostUsd)}): ${clip(e.reason)}`,
    );
  }
  if (trace.compensation) lines.push('', 'compensation (newest action first):');
  for (const line of trace.compensation ?? []) {
    const how = line.outcome === 'undone' ? `undone by ${line.undo}` : line.outcome.replace('_', ' ');
    lines.push(
      `  ↩ ${line.connector}.${line.action} (${line.key}): ${how}${line.detail ? ` (${clip(line.detail)})` : ''}`,
    );
  }
  return lines.join('\n');
}

function usd(value: number): string {
  return `$${value.toFixed(value < 0.01 && value > 0 ? 5 : 2)}`;
}

function duration(run: RunSummary): string {
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  return formatDuration(end - Date.parse(run.startedAt), true);
}

function clip(text: string, max = 400): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
