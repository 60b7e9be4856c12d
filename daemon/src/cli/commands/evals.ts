/** `keel eval`: a runbook's graded cases run live against the endpoint, stored, and compared with the baseline. */
import type { Command } from 'commander';
import { EvalRunRequest, type EvalDrift, type EvalSummaryRow } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { ensureTrusted } from '../trustPrompt';
import type { CliContext } from '../context';
import { printJson } from '../format';
import { driftLines } from '../../conductor/evals/evalDrift';

export function registerEvals(program: Command, context: CliContext): void {
  program
    .command('eval')
    .description(
      "run a runbook's evals: cases (runbooks/tests/*.test.yaml) live against the model endpoint, side effects " +
        'captured, graded, stored, and compared with the baseline',
    )
    .argument('<runbook>', 'the runbook name')
    .option('--tier <tier>', 'run every model step on this keel.yaml tier')
    .option('--repeat <n>', 'run each case this many times', (v) => Number.parseInt(v, 10), 1)
    .option('--baseline', 'make this result set the baseline drift is measured from')
    .option('--json', 'print JSON')
    .action(
      async (
        runbook: string,
        options: { tier?: string; repeat: number; baseline?: boolean; json?: boolean },
      ) => {
        if (!Number.isInteger(options.repeat) || options.repeat < 1 || options.repeat > 20)
          throw new Error('--repeat takes a whole number from 1 to 20');
        const run = await withWorkspace(
          resolveWorkspace(context.workspaceOption()),
          context.log,
          async ({ client }) => {
            await ensureTrusted(client, { yes: context.yes(), command: 'keel eval', triggers: false });
            return client.request(EvalRunRequest, {
              runbook,
              ...(options.tier ? { tier: options.tier } : {}),
              repeat: options.repeat,
              baseline: options.baseline === true,
            });
          },
        );
        if (options.json) printJson(run);
        else {
          const lines = run.results.map(
            (r) =>
              `${r.passed ? 'PASS' : 'FAIL'}  ${r.runbook} › ${r.case}${run.results.some((o) => o.repeat > 0) ? ` #${r.repeat + 1}` : ''}` +
              `  score ${r.score.toFixed(2)}  $${r.costUsd.toFixed(4)}  ${r.tokens} tokens  ${r.latencyMs} ms  ${r.model ?? '-'}` +
              r.checks
                .filter((c) => !c.passed || c.kind === 'rubric')
                .map((c) => `\n      ${c.kind}: ${c.detail ?? 'passed'}`)
                .join(''),
          );
          const passed = run.results.filter((r) => r.passed).length;
          lines.push(`${passed} of ${run.results.length} passed on tier ${run.results[0]?.tier ?? '-'}`);
          if (run.baseline) lines.push('Kept as the baseline for later evals of this runbook and tier.');
          if (run.drift) lines.push(...describeDrift(run.drift));
          process.stdout.write(lines.join('\n') + '\n');
        }
        if (run.results.some((r) => !r.passed) || run.drift) process.exitCode = 1;
      },
    );
}

function describeDrift(drift: EvalDrift): string[] {
  return [
    `DRIFT from the baseline of ${drift.baselineAt} (tolerance ${drift.tolerance}):`,
    ...driftLines(drift).map((line) => `  ${line}`),
  ];
}

/** The report's eval section per runbook and tier: pass rate, score, cost (per passing run too), latency; recent drift. */
export function evalSection(rows: EvalSummaryRow[], drift: EvalDrift[]): string[] {
  if (rows.length === 0 && drift.length === 0) return [];
  const lines = ['', 'EVALS (keel eval)'];
  for (const r of rows) {
    lines.push(
      `  ${r.runbook} on ${r.tier}: ${r.runs} eval(s), ${Math.round(r.passRate * 100)}% passed, mean score ` +
        `${r.meanScore.toFixed(2)}, $${r.costUsd.toFixed(4)}, ${r.tokens} tokens, model ${r.model ?? '-'}` +
        (r.costPerPassUsd === undefined
          ? ''
          : `, ${r.costPerPassUsd === null ? 'no passing run' : `$${r.costPerPassUsd.toFixed(4)} per passing run`}`) +
        (r.meanLatencyMs === undefined || !Number.isFinite(r.meanLatencyMs)
          ? ''
          : `, ${Math.round(r.meanLatencyMs)} ms a run`),
    );
  }
  for (const d of drift)
    lines.push(...describeDrift(d).map((l, i) => (i === 0 ? `  ${d.runbook} (${d.tier}) ${l}` : `  ${l}`)));
  return lines;
}
