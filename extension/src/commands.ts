/** Keel's commands, registered from one typed table. Each answers clearly when it cannot run. */
import * as vscode from 'vscode';
import { WorkspaceInitRequest, type InitResult } from '@keel/schemas';
import type { DaemonClient } from './daemonClient';
import { showSearchQuickPick } from './views/searchQuickPick';
import type { WorkspaceTracker } from './workspaceTracker';

export interface CommandContext {
  readonly folder: string | null;
  readonly client: DaemonClient | null;
  readonly tracker: WorkspaceTracker | null;
  readonly output: vscode.LogOutputChannel;
}

export const COMMANDS = {
  'keel.initWorkspace': initWorkspace,
  'keel.restartDaemon': restartDaemon,
  'keel.searchMemory': searchMemory,
  'keel.showLogs': (context: CommandContext) => context.output.show(),
} satisfies Record<string, (context: CommandContext) => unknown>;

export type CommandId = keyof typeof COMMANDS;

export function registerCommands(context: CommandContext): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, run]) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run(context);
      } catch (error) {
        const message = (error as Error).message;
        context.output.error(`${id} failed: ${message}`);
        void vscode.window.showErrorMessage(`Keel: ${message}`);
      }
    }),
  );
}

async function initWorkspace({ client, tracker }: CommandContext): Promise<void> {
  if (!client || !tracker) return askForFolder();
  if (client.state.connection !== 'running') await client.start();
  if (client.state.connection !== 'running') return; // start() already told the operator why
  const result = await client.request(WorkspaceInitRequest);
  await tracker.refresh();
  void vscode.window.showInformationMessage(describeInit(result));
}

async function restartDaemon({ client, tracker }: CommandContext): Promise<void> {
  if (!client || !tracker) return askForFolder();
  if (!(await tracker.refresh())) {
    const choice = await vscode.window.showWarningMessage(
      'This folder is not a Keel workspace yet, so no daemon runs for it.',
      'Initialize Workspace',
    );
    if (choice) await vscode.commands.executeCommand('keel.initWorkspace');
    return;
  }
  await client.restart();
}

async function searchMemory({ client, tracker, folder }: CommandContext): Promise<void> {
  if (!client || !tracker || !folder) return askForFolder();
  if (!(await tracker.refresh())) {
    const choice = await vscode.window.showWarningMessage(
      'This folder is not a Keel workspace yet, so it has no memory to search.',
      'Initialize Workspace',
    );
    if (choice) await vscode.commands.executeCommand('keel.initWorkspace');
    return;
  }
  if (client.state.connection !== 'running') await client.start();
  if (client.state.connection !== 'running') return;
  await showSearchQuickPick(client, folder);
}

async function askForFolder(): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    'Keel works on a folder: open one first.',
    'Open Folder',
  );
  if (choice) await vscode.commands.executeCommand('vscode.openFolder');
}

function describeInit(result: InitResult): string {
  const made = [...result.created, ...(result.gitInitialized ? ['a git repository'] : [])];
  const base =
    made.length > 0
      ? `Keel workspace initialized: created ${made.join(', ')}.`
      : 'This folder already is a Keel workspace; nothing was changed.';
  return [base, ...result.warnings].join(' ');
}
