/**
 * Taking a run over and answering a checkpoint, from the sidebar or the command palette: pick a
 * failed or cancelled run and the step it goes on from; or open a step's output (or a
 * checkpoint's state) as an editable JSON document, and go on with it once the operator confirms.
 */
import * as vscode from 'vscode';
import {
  RunCheckpointRequest,
  RunGetRequest,
  RunTakeoverRequest,
  type RunSummary,
  type StepTrace,
} from '@keel/schemas';
import { canTakeOver, runPickItem, STATUS_LABELS } from './runList';
import type { RunsContext } from './runActions';

/** An output document waiting for the operator to confirm it: what it goes on with. */
interface PendingOutput {
  kind: 'takeover' | 'checkpoint';
  runId: string;
  stepId: string;
}

const pending = new Map<string, PendingOutput>();

/** Keeps `keel.stepOutputEditor` true while a step output document is the active editor (its title shows Confirm). */
export function trackStepOutputEditors(): vscode.Disposable {
  const update = (editor: vscode.TextEditor | undefined): void =>
    void vscode.commands.executeCommand(
      'setContext',
      'keel.stepOutputEditor',
      editor !== undefined && pending.has(editor.document.uri.toString()),
    );
  const closed = vscode.workspace.onDidCloseTextDocument((d) => pending.delete(d.uri.toString()));
  return vscode.Disposable.from(vscode.window.onDidChangeActiveTextEditor(update), closed);
}

/**
 * "Take over from step…": the run goes on from the chosen step, the steps before it from its journal.
 * `fromStep` (the timeline's "Take over from here") skips the question which step.
 */
export async function takeOverRun(context: RunsContext, id?: string, fromStep?: string): Promise<void> {
  const run = await pickRun(context, id, canTakeOver, 'Keel: Take Over Run', 'a failed or cancelled run');
  if (!run) return;
  const stepId = fromStep ?? (await pickStep(context, run, 'Take over from which step?'))?.id;
  if (!stepId) return;
  const taken = await context.client.request(RunTakeoverRequest, { id: run.id, fromStep: stepId });
  context.store.apply(taken);
  await context.revealRun(run.id);
}

/** "Supply step output…": the step's recorded output as an editable JSON document. */
export async function supplyStepOutput(context: RunsContext, id?: string): Promise<void> {
  const run = await pickRun(
    context,
    id,
    canTakeOver,
    'Keel: Supply Step Output',
    'a failed or cancelled run',
  );
  if (!run) return;
  const step = await pickStep(context, run, 'Supply the output of which step?');
  if (!step) return;
  await openOutput(context, { kind: 'takeover', runId: run.id, stepId: step.id }, step.output ?? null);
}

/** "Answer checkpoint…": continue, edit the state shown (as a JSON document), or stop. */
export async function answerCheckpoint(context: RunsContext, id?: string): Promise<void> {
  const run = await pickRun(
    context,
    id,
    (status) => status === 'waiting_operator',
    'Keel: Answer Checkpoint',
    'a run waiting at a checkpoint',
  );
  if (!run) return;
  const checkpoint = run.waitingFor;
  // The daemon names the step whenever a run waits at a checkpoint; this guards a summary gone stale.
  if (checkpoint === null) throw new Error(`run "${run.id}" is not waiting at a checkpoint`);
  const trace = await context.client.request(RunGetRequest, { id: run.id });
  const step = trace.steps.find((s) => s.id === checkpoint);
  const input = (step?.input ?? {}) as { message?: string; state?: unknown };
  const choice = await vscode.window.showQuickPick(
    [
      {
        label: 'Continue',
        detail: 'The state shown becomes the step’s output.',
        action: 'continue' as const,
      },
      { label: 'Edit…', detail: 'Change the state first, in an editor.', action: 'edit' as const },
      {
        label: 'Stop',
        detail: 'The run ends cancelled (it can be taken over later).',
        action: 'stop' as const,
      },
    ],
    { title: `Checkpoint "${checkpoint}" of ${run.runbook}`, placeHolder: input.message ?? 'Go on?' },
  );
  if (!choice) return;
  if (choice.action === 'edit') {
    await openOutput(context, { kind: 'checkpoint', runId: run.id, stepId: checkpoint }, input.state);
    return;
  }
  const answered = await context.client.request(RunCheckpointRequest, { id: run.id, action: choice.action });
  context.store.apply(answered.run);
}

/** Goes on with the output in the active editor (or the one named), once it parses as JSON. */
export async function confirmStepOutput(context: RunsContext, uri?: vscode.Uri): Promise<void> {
  const document = uri
    ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString())
    : vscode.window.activeTextEditor?.document;
  const target = document ? pending.get(document.uri.toString()) : undefined;
  if (!document || !target) {
    void vscode.window.showInformationMessage(
      'Keel: open a step output first ("Keel: Supply Step Output" or "Keel: Answer Checkpoint").',
    );
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(document.getText()) as unknown;
  } catch (error) {
    throw new Error(`the output is not valid JSON (${(error as Error).message}); fix it and confirm again`);
  }
  const run =
    target.kind === 'takeover'
      ? await context.client.request(RunTakeoverRequest, {
          id: target.runId,
          fromStep: target.stepId,
          output: { value },
        })
      : (
          await context.client.request(RunCheckpointRequest, {
            id: target.runId,
            action: 'edit',
            output: { value },
          })
        ).run;
  pending.delete(document.uri.toString());
  context.store.apply(run);
  // Closes this document, never whatever editor happens to be active (the operator's unsaved work).
  await vscode.window.showTextDocument(document);
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  await context.revealRun(run.id);
}

async function openOutput(context: RunsContext, target: PendingOutput, value: unknown): Promise<void> {
  const document = await vscode.workspace.openTextDocument({
    language: 'json',
    content: `${JSON.stringify(value ?? null, null, 2)}\n`,
  });
  pending.set(document.uri.toString(), target);
  await vscode.window.showTextDocument(document);
  await vscode.commands.executeCommand('setContext', 'keel.stepOutputEditor', true);
  const what =
    target.kind === 'takeover'
      ? `the output of step "${target.stepId}"; the run goes on after it`
      : `the output of checkpoint "${target.stepId}"`;
  const choice = await vscode.window.showInformationMessage(
    `Keel: edit ${what}, then confirm ("Keel: Confirm Step Output").`,
    'Confirm',
  );
  if (choice === 'Confirm') await confirmStepOutput(context, document.uri);
}

async function pickRun(
  context: RunsContext,
  id: string | undefined,
  fits: (status: RunSummary['status']) => boolean,
  title: string,
  what: string,
): Promise<RunSummary | undefined> {
  if (id !== undefined) {
    const run = context.store.run(id) ?? (await context.client.request(RunGetRequest, { id })).run;
    if (!fits(run.status))
      throw new Error(`run ${run.id} is ${STATUS_LABELS[run.status]}; this needs ${what}`);
    return run;
  }
  await context.store.refreshRuns();
  const runs = context.store.runs.runs.filter((run) => fits(run.status));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`Keel: there is no ${what} among the recent runs.`);
    return undefined;
  }
  const now = Date.now();
  const chosen = await vscode.window.showQuickPick(
    runs.map((run) => runPickItem(run, now)),
    { title, placeHolder: 'Which run?', matchOnDescription: true, matchOnDetail: true },
  );
  return chosen?.run;
}

async function pickStep(
  context: RunsContext,
  run: RunSummary,
  placeHolder: string,
): Promise<StepTrace | undefined> {
  const { steps } = await context.client.request(RunGetRequest, { id: run.id });
  const chosen = await vscode.window.showQuickPick(
    steps.map((step) => ({
      label: step.id,
      description: `${step.type} · ${step.status}${step.supplied ? ' · supplied by you' : ''}`,
      detail: step.error ?? undefined,
      step,
    })),
    { title: `Take over ${run.runbook} (${run.id})`, placeHolder },
  );
  return chosen?.step;
}
