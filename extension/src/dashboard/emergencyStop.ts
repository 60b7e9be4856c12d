/**
 * The emergency stop from the editor: `Keel: Emergency Stop` and `Keel: Resume`, from the palette or
 * the Dashboard's buttons, registered from their own typed table. Stopping asks first, in a modal.
 * Without a folder there is nothing to stop, and both ask for one as Keel's other commands do.
 */
import * as vscode from 'vscode';
import { EmergencyStopRequest, ResumeRequest, type ControlState } from '@keel/schemas';
import type { EmergencyStopCommand } from '../commandIds';
import type { DaemonClient } from '../daemonClient';
import { askForFolder } from '../explain';

export const STOP_CHOICE = 'Stop Everything';
const STOP_REASON = 'Emergency Stop pressed in the editor';

export interface EmergencyStopContext {
  readonly client: DaemonClient;
  readonly output: vscode.LogOutputChannel;
  /** Shows an action under way, and the control state it ended in. */
  readonly busy: (action: 'stopping' | 'resuming' | null) => void;
  readonly applied: (control: ControlState) => void;
}

export const EMERGENCY_COMMANDS = {
  'keel.emergencyStop': emergencyStop,
  'keel.resume': resume,
} satisfies Record<EmergencyStopCommand, (context: EmergencyStopContext) => Promise<void>>;

export function registerEmergencyCommands(context: EmergencyStopContext): vscode.Disposable[] {
  return Object.entries(EMERGENCY_COMMANDS).map(([id, run]) =>
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

export function registerEmergencyCommandsWithoutFolder(): vscode.Disposable[] {
  return Object.keys(EMERGENCY_COMMANDS).map((id) => vscode.commands.registerCommand(id, askForFolder));
}

async function emergencyStop(context: EmergencyStopContext): Promise<void> {
  const { client } = context;
  const choice = await vscode.window.showWarningMessage(
    'Stop every Keel run now?',
    {
      modal: true,
      detail:
        'Every run halts within a second, and no run, model call or file change starts until you resume. ' +
        'The stop holds across restarts of the editor and the daemon.',
    },
    STOP_CHOICE,
  );
  if (choice !== STOP_CHOICE) {
    context.busy(null); // Tells the view that its press came to nothing.
    return;
  }
  const control = await withBusy(context, 'stopping', async () => {
    // Nothing runs while the daemon is down, but the stop must be in place before it comes back.
    if (client.state.connection !== 'running') await client.start();
    return client.request(EmergencyStopRequest, { reason: STOP_REASON });
  });
  context.output.warn(`Emergency stop since ${control.stoppedAt ?? 'now'}.`);
}

async function resume(context: EmergencyStopContext): Promise<void> {
  await withBusy(context, 'resuming', () => context.client.request(ResumeRequest));
  context.output.info('Emergency stop lifted: runs go on.');
}

async function withBusy(
  context: EmergencyStopContext,
  action: 'stopping' | 'resuming',
  request: () => Promise<ControlState>,
): Promise<ControlState> {
  context.busy(action);
  try {
    const control = await request();
    context.applied(control);
    return control;
  } finally {
    context.busy(null);
  }
}
