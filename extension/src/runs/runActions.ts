/**
 * What the operator does with runbooks and runs, from the sidebar or the command palette: pick a
 * runbook, answer its inputs, start it and see it in the list; cancel a run; open a run's trace.
 */
import * as vscode from 'vscode';
import {
  FINISHED_RUN_STATUSES,
  RunCancelRequest,
  RunForecastRequest,
  RunStartRequest,
  type RunbookInfo,
  type RunSummary,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { formatUsd, runPickItem, STATUS_LABELS } from './runList';
import type { RunsStore } from './runsStore';
import { notificationText } from '../alerts/editorAlerts';
import { forecastTitle } from './forecastText';
import { askRunInputs } from './runInputs';
import type { RunTraceProvider } from './runTrace';
import type { RunTimelines } from './runTimelinePanel';
import { openResult } from '../memory/searchQuickPick';

export interface RunsContext {
  readonly folder: string;
  readonly client: DaemonClient;
  readonly store: RunsStore;
  /** The Markdown form of a trace ("Keel: Show Run Trace as Markdown"). */
  readonly trace: RunTraceProvider;
  /** A run's timeline panel, what opening a run shows. */
  readonly timeline: RunTimelines;
  /** Shows the Keel sidebar and marks the run in its list. */
  readonly revealRun: (id: string) => Promise<void>;
}

/** Asks the runbook's inputs and starts it; without a name, asks which runbook first. */
export async function runRunbook(context: RunsContext, name?: string): Promise<void> {
  if (context.store.runbooks.runbooks.length === 0 || name === undefined)
    await context.store.refreshRunbooks();
  const runbook = name === undefined ? await pickRunbook(context) : findRunbook(context.store, name);
  if (!runbook) return;
  const [problem] = runbook.problems;
  if (problem) {
    const choice = await vscode.window.showErrorMessage(
      `Runbook ${runbook.name} cannot run: ${problem.path}:${problem.line}:${problem.column} ${problem.message}`,
      'Open Runbook',
    );
    if (choice) await openResult(context.folder, problem.path, problem.line, problem.column);
    return;
  }
  // A forecast that cannot be had (a daemon from before forecasts) does not stop the run.
  const forecast = await context.client
    .request(RunForecastRequest, { runbook: runbook.name })
    .then(forecastTitle, () => null);
  const inputs = await askRunInputs(runbook, forecast);
  if (!inputs) return;
  const run = await context.client.request(RunStartRequest, { runbook: runbook.name, inputs });
  // A runbook without inputs has no dialog: its forecast shows as it starts.
  if (runbook.inputs.length === 0 && forecast)
    void vscode.window.showInformationMessage(`Keel: started ${runbook.name}, ${forecast}.`);
  started.add(run.id);
  context.store.apply(run);
  await context.revealRun(run.id);
}

function findRunbook(store: RunsStore, name: string): RunbookInfo | undefined {
  const runbook = store.runbooks.runbooks.find((r) => r.name === name);
  if (!runbook) void vscode.window.showErrorMessage(`Keel: there is no runbook named ${name}.`);
  return runbook;
}

interface RunbookItem extends vscode.QuickPickItem {
  runbook?: RunbookInfo;
}

async function pickRunbook({ store }: RunsContext): Promise<RunbookInfo | undefined> {
  const { runbooks, error } = store.runbooks;
  if (error) throw new Error(`could not list the runbooks: ${error}`);
  if (runbooks.length === 0) {
    void vscode.window.showInformationMessage(
      'Keel: this workspace has no runbooks yet. Add one under runbooks/ (apiVersion: keel/v1).',
    );
    return undefined;
  }
  const valid = runbooks.filter((r) => r.problems.length === 0);
  // Each runbook that cannot run, with the first of its problems.
  const invalid = runbooks.flatMap((runbook) =>
    runbook.problems.slice(0, 1).map((problem) => ({ runbook, problem })),
  );
  const items: RunbookItem[] = valid.map((runbook) => ({
    label: runbook.name,
    description: runbook.role ?? undefined,
    detail: runbook.description ?? undefined,
    runbook,
  }));
  if (invalid.length > 0) {
    items.push({ label: 'Cannot run: fix these first', kind: vscode.QuickPickItemKind.Separator });
    for (const { runbook, problem } of invalid) {
      items.push({
        label: `$(error) ${runbook.name}`,
        description: `${problem.path}:${problem.line}:${problem.column}`,
        detail: problem.message,
        runbook,
      });
    }
  }
  const chosen = await vscode.window.showQuickPick(items, {
    title: 'Keel: Run Runbook',
    placeHolder: 'Which runbook?',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return chosen?.runbook;
}

export async function cancelRun({ client, store }: RunsContext, id: string): Promise<void> {
  started.delete(id); // the operator cancelled it: no need to tell them it ended
  store.apply(await client.request(RunCancelRequest, { id }));
}

/**
 * Opens a run's timeline (or, `as: 'markdown'`, its trace as a Markdown document); without an id,
 * asks which of the recent runs.
 */
export async function showRunTrace(
  context: RunsContext,
  id?: string,
  as: 'timeline' | 'markdown' = 'timeline',
): Promise<void> {
  const open = (run: Pick<RunSummary, 'id' | 'runbook'>): Promise<void> =>
    as === 'markdown' ? context.trace.show(run) : context.timeline.show(run);
  if (id !== undefined) {
    const run = context.store.run(id);
    await open(run ?? { id, runbook: 'run' });
    return;
  }
  if (context.store.runs.runs.length === 0) await context.store.refreshRuns();
  const { runs } = context.store.runs;
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      'Keel: no runs yet. Run a runbook first ("Keel: Run Runbook").',
    );
    return;
  }
  const now = Date.now();
  const chosen = await vscode.window.showQuickPick(
    runs.map((run) => runPickItem(run, now)),
    { title: 'Keel: Show Run Trace', placeHolder: 'Which run?', matchOnDescription: true },
  );
  if (chosen) await open(chosen.run);
}

/** Runs started from this window: the operator hears how they ended. */
const started = new Set<string>();

/**
 * Tells the operator how runs started from this window ended; every other run's change goes to
 * `otherRun` (the editor's alerts tell an escalation from a trigger or another window).
 */
export function announceFinishedRuns(
  context: RunsContext,
  otherRun: (run: RunSummary) => void = () => undefined,
): vscode.Disposable {
  return context.store.onDidChangeRun((run) => {
    if (!started.has(run.id)) return otherRun(run);
    if (!FINISHED_RUN_STATUSES.includes(run.status)) return;
    started.delete(run.id);
    void announce(context, run);
  });
}

async function announce(context: RunsContext, run: RunSummary): Promise<void> {
  const what = `Keel: ${run.runbook} ${STATUS_LABELS[run.status]} (${formatUsd(run.costUsd)})`;
  const why = run.escalation ?? run.error;
  const message = why ? `${what}: ${notificationText(why)}` : `${what}.`;
  const show =
    run.status === 'succeeded' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  if ((await show(message, 'Show Trace')) === 'Show Trace') await context.trace.show(run);
}
