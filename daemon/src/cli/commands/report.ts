/**
 * `keel resume` and `keel report`: lifting the emergency stop (or, given a run, taking it over
 * from a step), and what each agent costs and does.
 */
import type { Command } from 'commander';
import {
  BudgetAdviceRequest,
  ControlStateRequest,
  EvalReportRequest,
  MetricsReportRequest,
  ResumeRequest,
  type BudgetAdvice,
} from '@keel/schemas';
import { evalSection } from './evals';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import type { CliContext } from '../context';
import { formatDuration, printJson } from '../format';
import { takeOverFromCli } from './takeover';

export function registerReport(program: Command, context: CliContext): void {
  const workspace = (): string => resolveWorkspace(context.workspaceOption());

  program
    .command('resume')
    .description(
      'lift the emergency stop: halted runs go on where they stopped; given a failed, cancelled or ' +
        'budget_exceeded RUN: take it over, going on from --from STEP with the steps before it taken from its journal',
    )
    .argument('[run]', 'a run to take over (see "keel runs"); without it, lifts the emergency stop')
    .option('--from <step>', 'with RUN: the step the run goes on from')
    .option('--output <file>', "with RUN: STEP's result, by hand (JSON, YAML, or any other file as text)")
    .option('--json', 'with RUN: print the run as JSON')
    .action(async (run: string | undefined, options: { from?: string; output?: string; json?: boolean }) => {
      if (run) return takeOverFromCli(context, run, options);
      if (options.from || options.output) {
        throw new Error('--from and --output take over a run: keel resume RUN --from STEP [--output FILE]');
      }
      await withWorkspace(workspace(), context.log, ({ client }) => client.request(ResumeRequest));
      process.stdout.write('Resumed: runs start and go on again.\n');
    });

  program
    .command('report')
    .description(
      'per agent: runs, success and error rates, latency, cost, tokens, throughput, rework, and ' +
        'changes reviewed by you vs applied by a policy rule; per connector: actions, failures, undos, approvals',
    )
    .option('--since <date>', 'from this day (YYYY-MM-DD) or date-time (default: 30 days ago)')
    .option('--until <date>', 'up to this day or date-time (default: now)')
    .option('--advice', 'add budget advice: agents by cost per successful run and rework, and quota moves')
    .option('--json', 'print JSON')
    .action(async (options: { since?: string; until?: string; advice?: boolean; json?: boolean }) => {
      const span = {
        ...(options.since ? { since: options.since } : {}),
        ...(options.until ? { until: options.until } : {}),
      };
      const [report, control, evals, advice] = await withWorkspace(
        workspace(),
        context.log,
        async ({ client }) => [
          await client.request(MetricsReportRequest, span),
          await client.request(ControlStateRequest),
          await client.request(EvalReportRequest, span),
          options.advice ? await client.request(BudgetAdviceRequest, span) : null,
        ],
      );
      if (options.json) {
        printJson({ ...report, control, evals, ...(advice ? { advice } : {}) });
        return;
      }
      const rows = report.agents.map((a) => [
        a.agent,
        String(a.runs),
        pct(a.successRate),
        pct(a.errorRate),
        a.p50Ms === null ? '-' : formatDuration(a.p50Ms, true),
        a.p95Ms === null ? '-' : formatDuration(a.p95Ms, true),
        `$${a.costUsd.toFixed(4)}`,
        String(a.tokens),
        a.throughputPerHour.toFixed(2),
        a.reworkRate === null ? '-' : pct(a.reworkRate),
        String(a.approvals.approved + a.approvals.edited + a.approvals.rejected),
        String(a.approvals.policy),
      ]);
      const header = [
        'AGENT',
        'RUNS',
        'SUCCESS',
        'ERRORS',
        'P50',
        'P95',
        'COST',
        'TOKENS',
        'RUNS/H',
        'REWORK',
        'REVIEWED',
        'BY POLICY',
      ];
      const lines = [`From ${report.since} to ${report.until}`, ...table(header, rows)];
      if (rows.length === 0) lines.push('No runs in this span.');
      else
        lines.push(
          'REVIEWED: changes you approved, edited or rejected. BY POLICY: applied without review by ' +
            'an approvals rule of keel.yaml (see "keel approvals --all").',
        );
      for (const a of report.agents) {
        if (!a.lessons) continue;
        const rate = (value: number | null): string => (value === null ? '-' : pct(value));
        lines.push(
          `Lessons for ${a.agent} since ${a.lessons.since.slice(0, 10)}: rework ${rate(a.lessons.reworkBefore)} ` +
            `up to the first, ${rate(a.lessons.reworkAfter)} after (${a.lessons.decidedAfter} decisions since; ` +
            `see memory/feedback/${a.agent}.md)`,
        );
      }
      if (report.connectors.length > 0) {
        const connectorRows = report.connectors.map((c) => [
          c.connector,
          String(c.actions),
          String(c.succeeded),
          String(c.failed),
          String(c.open),
          String(c.undos),
          String(c.approvals.approved),
          String(c.approvals.edited),
          String(c.approvals.rejected),
        ]);
        lines.push(
          '',
          ...table(
            ['CONNECTOR', 'ACTIONS', 'DONE', 'FAILED', 'OPEN', 'UNDOS', 'APPROVED', 'EDITED', 'REJECTED'],
            connectorRows,
          ),
          'ACTIONS: calls by steps and agents, reads included. FAILED: did not happen (a failed read fails its step). OPEN: cut off, ' +
            'not settled yet. UNDOS: taken back after a run failed or was cancelled.',
        );
      }
      lines.push(...evalSection(evals.rows, evals.drift));
      if (control.stopped)
        lines.push(`EMERGENCY STOP since ${control.stoppedAt}: run "keel resume" to lift it.`);
      for (const q of control.quotas) {
        const limit =
          q.maxUsd !== null
            ? `$${q.spentUsd.toFixed(4)} of $${q.maxUsd}`
            : `${q.tokens} of ${q.maxTokens} tokens`;
        lines.push(`Quota ${q.agent} per ${q.period}: ${limit} (${q.state})`);
      }
      for (const b of control.breakers.filter((b) => b.state !== 'closed')) {
        const why = b.reason ? ` (${b.reason})` : '';
        lines.push(`Breaker ${b.name}: ${b.state}${b.retryAt ? ` until ${b.retryAt}` : ''}${why}`);
      }
      if (advice) lines.push('', ...adviceLines(advice));
      process.stdout.write(lines.join('\n') + '\n');
    });
}

/** `keel report --advice`: the dearest agents first, then where quota could have moved. */
function adviceLines(advice: BudgetAdvice): string[] {
  const rows = advice.agents.map((a, i) => [
    String(i + 1),
    a.agent,
    String(a.succeeded),
    `$${a.costUsd.toFixed(4)}`,
    a.costPerSuccessUsd === null ? 'no success' : `$${a.costPerSuccessUsd.toFixed(4)}`,
    a.reworkRate === null ? '-' : pct(a.reworkRate),
  ]);
  const lines = [
    'Budget advice',
    ...table(['RANK', 'AGENT', 'SUCCEEDED', 'COST', 'PER SUCCESS', 'REWORK'], rows),
  ];
  if (rows.length === 0) lines.push('No runs in this span.');
  else
    lines.push(
      'PER SUCCESS: spend over successful runs, dearest first; REWORK: your decisions that edited or rejected a proposal.',
    );
  for (const move of advice.moves) lines.push(`Quota: ${move.text}.`);
  if (advice.moves.length === 0) lines.push('Quota: no run was refused by a quota in its current period.');
  return lines;
}

/** Rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

function pct(value: number): string {
  return `${Math.round(value * 100)}%`;
}
