/**
 * The Keel Dashboard: a webview view of its own in Keel's activity-bar container, next to the
 * sidebar. It shows the feed's snapshots and turns the operator's clicks, validated by its host,
 * into commands. Its content security policy lets only its own bundled script run.
 */
import * as vscode from 'vscode';
import { WebviewViewHost, type ActionOf } from '../webviewHost/webviewViewHost';
import {
  DashboardToHostMessage,
  type DashboardSnapshot,
  type HostToDashboardMessage,
} from '@keel/schemas/src/webviews';
import { executeKeelCommand } from '../executeKeelCommand';

export class DashboardViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'keel.dashboard';
  private busy: 'stopping' | 'resuming' | null = null;
  private readonly host: WebviewViewHost<DashboardToHostMessage, HostToDashboardMessage>;

  constructor(
    extensionUri: vscode.Uri,
    snapshot: () => DashboardSnapshot,
    /** The view shows or hides: the feed fetches only while it is visible. */
    private readonly onVisible: (visible: boolean) => void,
    output: vscode.LogOutputChannel,
  ) {
    this.host = new WebviewViewHost({
      extensionUri,
      name: 'the Keel dashboard',
      page: {
        script: 'dashboard.js',
        style: 'dashboard.css',
        title: 'Keel Dashboard',
        main: '<main id="dashboard" aria-busy="true"><p class="muted">Loading…</p></main>',
      },
      incoming: DashboardToHostMessage,
      catchUp: () => [
        { type: 'snapshot', snapshot: snapshot() },
        ...(this.busy ? [{ type: 'busy', action: this.busy } as const] : []),
      ],
      handle: (message) => this.act(message),
      output,
      onReady: () => onVisible(this.host.visible),
      onVisibility: onVisible,
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.host.resolve(view);
    // Visible now: the feed fetches without waiting for the script's `ready`, which may be late.
    this.onVisible(view.visible);
  }

  show(snapshot: DashboardSnapshot): void {
    this.host.post({ type: 'snapshot', snapshot });
  }

  setBusy(action: 'stopping' | 'resuming' | null): void {
    this.busy = action;
    this.host.post({ type: 'busy', action });
  }

  dispose(): void {
    this.host.dispose();
  }

  private async act(message: ActionOf<DashboardToHostMessage>): Promise<void> {
    switch (message.type) {
      case 'emergencyStop':
        await executeKeelCommand('keel.emergencyStop');
        return;
      case 'resume':
        await executeKeelCommand('keel.resume');
        return;
      case 'showRunTrace':
        await executeKeelCommand('keel.showRunTrace', message.id);
        return;
      case 'rerun':
        await executeKeelCommand('keel.rerunRun', message.id);
        return;
    }
  }
}
