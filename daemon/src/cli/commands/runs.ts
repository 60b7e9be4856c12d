/** `keel run`, `keel runs`, `keel show`, `keel replay`, `keel cancel`, `keel test`: runbooks from a terminal. */
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import {
  FINISHED_RUN_STATUSES,
  RunbookTestRequest,
  RunCancelRequest,
  RunChangedNotification,
  RunGetRequest,
  RunReplayRequest,
  RunsListRequest,
  RunForecastRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { ensureTrusted } from '../trustPrompt';
import type { CliContext } from '../context';
import { printJson } from '../format';
import { ProgressLine } from '../progress';
import { describeRun, describeTrace, runsTable } from '../runFormat';
import { nextStep } from './takeover';

export function registerRuns(program: Command, context: CliContext): void {
  const workspace = (): string => resolveWorkspace(context.workspaceOption());

  program
    .command('run')
    .description('run a runbook and wait for it to finish')
    .argument('<runbook>', 'the runbook name (or its file name without .yaml)')
    .option('-i, --input <key=value>', 'an input of the runbook (repeatable)', collect, [])
    .option('--record <file>', 'record every model answer into this cassette file, for runbook tests')
    .option('--replay <file>', 'answer every model call from this cassette instead of the endpoint')
    .option('--json', 'print the finished run as JSON')
    .action(
      async (
        runbook: string,
        options: { input: string[]; record?: string; replay?: string; json?: boolean },
      ) => {
        const inputs = Object.fromEntries(options.input.map(parseInput));
        const progress = new ProgressLine(process.stderr);
        const summary = await withWorkspace(workspace(), context.log, async ({ client }) => {
          let id: string | null = null;
          let finished: ((s: RunSummary) => void) | null = null;
          const done = new Promise<RunSummary>((resolve) => (finished = resolve));
          // Progress shows once the forecast line is out, which comes first.
          let latest: RunSummary | null = null;
          let forecastShown = false;
          const show = (run: RunSummary): void =>
            progress.update(
              `${run.runbook}: ${run.status}, step ${Math.min(run.stepsDone + 1, run.stepsTotal)}/${run.stepsTotal} ${run.currentStep ?? ''}`,
            );
          let underWay: (() => void) | null = null;
          const firstStep = new Promise<void>((resolve) => (underWay = resolve));
          client.onNotification(RunChangedNotification, (run) => {
            if (run.id !== id) return;
            latest = run;
            if (forecastShown) show(run);
            if (!startingUp(run)) underWay?.();
            if (settled(run)) finished?.(run);
          });
          await ensureTrusted(client, { yes: context.yes(), command: 'keel run', triggers: false });
          const start = client.request(RunStartRequest, {
            runbook,
            inputs,
            ...(options.record ? { recordCassette: options.record } : {}),
            ...(options.replay ? { replayCassette: options.replay } : {}),
          });
          // The forecast is asked for once the run's first step has started (or the run waits, or
          // FORECAST_WAIT_MS passed), so reading past runs' costs does not hold up that step
          // (issue 14): in the command's own daemon it opens the run store, 40-60 ms of the thread
          // that runs the step. A run that must wait for its cost (costAbove) is priced by its
          // start itself. On stderr with --json: stdout is one JSON value.
          const forecastLine = async (): Promise<void> => {
            if (!options.replay) {
              const forecast = await client.request(RunForecastRequest, { runbook });
              (options.json ? process.stderr : process.stdout).write(`${runbook}: ${forecast.text}\n`);
            }
            forecastShown = true;
            if (latest) show(latest);
          };
          const started = await start.catch(async (error: unknown) => {
            // A refused start (a quota, trust, a bad input) still says what the run would cost first.
            await forecastLine().catch(() => undefined);
            throw error;
          });
          id = started.id;
          if (startingUp(started))
            await Promise.race([firstStep, delay(FORECAST_WAIT_MS, undefined, { ref: false })]);
          // The run is under way: a forecast that cannot be made now is said, not made an error.
          await forecastLine().catch((error: Error) => {
            process.stderr.write(`${runbook}: no cost forecast (${error.message})\n`);
            forecastShown = true;
          });
          if (settled(started)) return started;
          // A notification may have come before the id was known: ask once more, then wait.
          const now = (await client.request(RunsListRequest, { limit: 1000 })).runs.find((r) => r.id === id);
          if (now && settled(now)) return now;
          return done.finally(() => progress.done());
        });
        progress.done();
        if (options.json) printJson(summary);
        else process.stdout.write(describeRun(summary) + '\n');
        if (summary.status === 'waiting_operator') {
          if (!options.json) process.stdout.write(nextStep(summary));
        } else if (summary.status === 'waiting_approval') {
          // The run waits (durably) for the operator; the command has done its part.
          if (!options.json) {
            process.stdout.write(
              `It waits for your decision on ${summary.waitingFor}: see "keel approvals", then ` +
                `"keel approve ${summary.waitingFor}" or "keel reject ${summary.waitingFor} --reason ...". ` +
                'The run goes on in the daemon once decided.\n',
            );
          }
        } else if (summary.status !== 'succeeded') process.exitCode = 1;
      },
    );

  program
    .command('runs')
    .description('list recent runs, newest first')
    .option('-n, --limit <n>', 'how many', (v) => Number(v), 20)
    .option('--runbook <name>', 'only runs of this runbook')
    .option('--json', 'print JSON')
    .action(async (options: { limit: number; runbook?: string; json?: boolean }) => {
      const { runs } = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(RunsListRequest, {
          limit: options.limit,
          ...(options.runbook ? { runbook: options.runbook } : {}),
        }),
      );
      if (options.json) printJson(runs);
      else
        process.stdout.write(
          runs.length ? runsTable(runs) + '\n' : 'No runs yet. Start one with "keel run RUNBOOK".\n',
        );
    });

  program
    .command('show')
    .description("show a run's trace: steps, timings, tokens, cost, retrieved memory, prompts and outputs")
    .argument('<run>', 'the run id (see "keel runs"), or a search hit\'s run:<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      // `keel search --kind run` names runs `run:<id>`: the same run.
      const runId = id.replace(/^run:/, '');
      const trace = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(RunGetRequest, { id: runId }),
      );
      if (options.json) printJson(trace);
      else process.stdout.write(describeTrace(trace) + '\n');
    });

  program
    .command('replay')
    .description(
      're-run a finished run from its journal: no model calls, no side effects; report the first divergence',
    )
    .argument('<run>', 'the run id')
    .option('--current', 'replay the runbook file as it is now, not the version the run kept')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { current?: boolean; json?: boolean }) => {
      const result = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(RunReplayRequest, { id, runbook: options.current ? 'current' : 'recorded' }),
      );
      if (options.json) printJson(result);
      else {
        const head = `Replayed ${result.id}: ${result.modelCalls} model calls, ${result.sideEffects} side effects, ended ${result.status}.`;
        process.stdout.write(
          result.divergence
            ? `${head}\nFirst divergence at step "${result.divergence.stepId}" (${result.divergence.kind}): ${result.divergence.message}\n`
            : `${head}\nIdentical to the recorded run.\n`,
        );
      }
      if (result.divergence) process.exitCode = 1;
    });

  program
    .command('cancel')
    .description('cancel a queued or running run')
    .argument('<run>', 'the run id')
    .action(async (id: string) => {
      const run = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(RunCancelRequest, { id }),
      );
      process.stdout.write(`${run.id}: ${run.status}\n`);
    });

  program
    .command('test')
    .description('run the runbook tests in runbooks/tests/ offline, from their cassettes')
    .argument('[runbook]', 'only this runbook')
    .option('--json', 'print JSON')
    .action(async (runbook: string | undefined, options: { json?: boolean }) => {
      const { results } = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(RunbookTestRequest, runbook ? { runbook } : {}),
      );
      if (options.json) printJson(results);
      else {
        // Scripted answers were written, not given by a model: say so, so a pass is not taken for one.
        const lines = results.map(
          (r) =>
            `${r.passed ? 'PASS' : 'FAIL'}  ${r.runbook} › ${r.case}  (${r.durationMs} ms` +
            `${r.cassetteSource === 'scripted' ? ', scripted answers' : ''})` +
            r.failures.map((f) => `\n      ${f}`).join(''),
        );
        // A cassette's note (settings it did not record) once, however many cases use it.
        lines.push(...new Set(results.flatMap((r) => r.notes.map((note) => `Note: ${note}`))));
        const failed = results.filter((r) => !r.passed).length;
        lines.push(
          results.length === 0
            ? 'No runbook tests found (runbooks/tests/*.test.yaml).'
            : `${results.length - failed} passed, ${failed} failed`,
        );
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (results.length === 0 || results.some((r) => !r.passed)) process.exitCode = 1;
    });
}

/** How long the forecast waits for a run's first step (a run queued behind others). */
const FORECAST_WAIT_MS = 500;

/** Whether the run has not begun its first step yet, nor stopped to wait. */
function startingUp(run: RunSummary): boolean {
  return run.currentStep === null && (run.status === 'queued' || run.status === 'running');
}

/** Finished, or waiting for the operator: either way there is nothing more to wait for here. */
function settled(run: RunSummary): boolean {
  return (
    FINISHED_RUN_STATUSES.includes(run.status) ||
    run.status === 'waiting_approval' ||
    run.status === 'waiting_operator'
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseInput(pair: string): [string, string] {
  const equals = pair.indexOf('=');
  if (equals <= 0) throw new Error(`--input takes key=value, not "${pair}"`);
  return [pair.slice(0, equals), pair.slice(equals + 1)];
}
