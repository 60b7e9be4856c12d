/**
 * `keel resume RUN --from STEP [--output FILE]` (taking an ended run over) and
 * `keel checkpoint RUN continue|edit FILE|stop` (answering a run that waits at a checkpoint).
 * Files are read here, by the CLI, as the operator: the daemon is sent their value, never a path.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  FINISHED_RUN_STATUSES,
  RunChangedNotification,
  RunCheckpointRequest,
  RunGetRequest,
  RunTakeoverRequest,
  type RunSummary,
} from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace, type WorkspaceConnection } from '../connect';
import type { CliContext } from '../context';
import { printJson } from '../format';
import { ProgressLine } from '../progress';
import { describeRun } from '../runFormat';
import { ensureTrusted } from '../trustPrompt';

type Client = WorkspaceConnection['client'];

/** `keel resume RUN --from STEP [--output FILE]`: the run goes on from STEP; prints where it ended. */
export async function takeOverFromCli(
  context: CliContext,
  id: string,
  options: { from?: string; output?: string; json?: boolean },
): Promise<void> {
  if (!options.from) {
    throw new Error(
      `say which step run ${id} goes on from: keel resume ${id} --from STEP (see "keel show ${id}")`,
    );
  }
  const fromStep = options.from;
  const output = options.output === undefined ? undefined : { value: await readOutputFile(options.output) };
  const workspace = resolveWorkspace(context.workspaceOption());
  const summary = await withWorkspace(workspace, context.log, async ({ client }) => {
    await ensureTrusted(client, { yes: context.yes(), command: 'keel resume', triggers: false });
    return follow(client, () => client.request(RunTakeoverRequest, { id, fromStep, output }));
  });
  if (!options.json) {
    process.stdout.write(
      output
        ? `Took ${id} over: step "${fromStep}" has the output you supplied; the run went on after it.\n`
        : `Took ${id} over from step "${fromStep}"; the steps before it were taken from its journal.\n`,
    );
  }
  report(summary, options.json === true);
}

export function registerTakeover(program: Command, context: CliContext): void {
  program
    .command('checkpoint')
    .description(
      "answer a run that waits at a checkpoint: continue (the state shown is the step's output), " +
        'edit FILE (the value in FILE is), or stop (the run ends cancelled)',
    )
    .argument('<run>', 'the run id (see "keel runs")')
    .argument('<action>', 'continue, edit or stop')
    .argument('[file]', 'for edit: a JSON or YAML file, or any other file as text')
    .option('--json', 'print the run as JSON')
    .action(async (id: string, action: string, file: string | undefined, options: { json?: boolean }) => {
      if (action !== 'continue' && action !== 'edit' && action !== 'stop') {
        throw new Error(`the action is continue, edit FILE or stop, not "${action}"`);
      }
      if (action === 'edit' && !file) throw new Error(`keel checkpoint ${id} edit FILE: name the file`);
      const params =
        action === 'edit'
          ? { id, action: 'edit' as const, output: { value: await readOutputFile(file!) } }
          : { id, action: action === 'stop' ? ('stop' as const) : ('continue' as const) };
      const workspace = resolveWorkspace(context.workspaceOption());
      let stepId = '';
      const summary = await withWorkspace(workspace, context.log, async ({ client }) => {
        if (action !== 'stop') {
          await ensureTrusted(client, { yes: context.yes(), command: 'keel checkpoint', triggers: false });
        }
        return follow(client, async () => {
          const answered = await client.request(RunCheckpointRequest, params);
          stepId = answered.stepId;
          return answered.run;
        });
      });
      if (!options.json) {
        const said = { continue: 'continued', edit: 'continued with your output', stop: 'stopped' }[action];
        process.stdout.write(`Checkpoint "${stepId}" of ${id}: ${said}.\n`);
      }
      report(summary, options.json === true);
    });
}

/**
 * The value of a step output given in a file: JSON for `.json`, YAML for `.yaml`/`.yml`, and
 * the text itself (one final newline dropped) for anything else.
 */
export async function readOutputFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const kind = extname(file).toLowerCase();
  try {
    if (kind === '.json') return JSON.parse(text) as unknown;
    if (kind === '.yaml' || kind === '.yml') return parseYaml(text) as unknown;
  } catch (error) {
    throw new Error(
      `${file} is not valid ${kind === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** Sends the request and follows the run until it ends or waits for the operator again. */
async function follow(client: Client, send: () => Promise<RunSummary>): Promise<RunSummary> {
  const progress = new ProgressLine(process.stderr);
  let id: string | null = null;
  let finished: ((run: RunSummary) => void) | null = null;
  const done = new Promise<RunSummary>((resolve) => (finished = resolve));
  client.onNotification(RunChangedNotification, (run) => {
    if (run.id !== id) return;
    progress.update(
      `${run.runbook}: ${run.status}, ${run.stepsDone}/${run.stepsTotal} ${run.currentStep ?? ''}`,
    );
    if (settled(run)) finished?.(run);
  });
  try {
    const first = await send();
    id = first.id;
    if (settled(first)) return first;
    // A notification may have come before the id was known: ask once more, then wait.
    const now = (await client.request(RunGetRequest, { id })).run;
    if (settled(now)) return now;
    return await done;
  } finally {
    progress.done();
  }
}

function settled(run: RunSummary): boolean {
  return (
    FINISHED_RUN_STATUSES.includes(run.status) ||
    run.status === 'waiting_approval' ||
    run.status === 'waiting_operator'
  );
}

function report(summary: RunSummary, json: boolean): void {
  if (json) printJson(summary);
  else process.stdout.write(describeRun(summary) + '\n' + nextStep(summary));
  if (summary.status !== 'succeeded' && !summary.status.startsWith('waiting_')) process.exitCode = 1;
}

/** What the operator does next with a run that waits for them. */
export function nextStep(run: RunSummary): string {
  if (run.status === 'waiting_operator') {
    return (
      `It waits at checkpoint "${run.waitingFor}": see "keel show ${run.id}", then ` +
      `"keel checkpoint ${run.id} continue", "keel checkpoint ${run.id} edit FILE" or "keel checkpoint ${run.id} stop".\n`
    );
  }
  if (run.status === 'waiting_approval') {
    return `It waits for your decision on ${run.waitingFor}: see "keel approvals".\n`;
  }
  if (run.status === 'failed' || run.status === 'cancelled' || run.status === 'budget_exceeded') {
    return `Take it over with "keel resume ${run.id} --from STEP" (add --output FILE to give that step's result).\n`;
  }
  return '';
}
