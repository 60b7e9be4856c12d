/**
 * The Keel sidebar: a webview view in Keel's activity-bar container. It renders `SidebarState`, the
 * approvals (counted by the view's badge), the runbooks and the recent runs, and turns the
 * operator's clicks into typed messages, which are validated before use.
 */
import * as vscode from 'vscode';
import { WebviewViewHost, type ActionOf } from '../webviewHost/webviewViewHost';
import { WebviewToHostMessage, type HostToWebviewMessage } from '@keel/schemas/src/webviews';

export class SidebarViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'keel.sidebar';
  private view: vscode.WebviewView | null = null;
  /** A run to mark once the view can show it (it may be hidden, or not loaded yet). */
  private pendingReveal: string | null = null;
  /** The number on the Keel icon: proposals waiting for the operator. */
  private badge: vscode.ViewBadge = { value: 0, tooltip: '' };
  private readonly host: WebviewViewHost<WebviewToHostMessage, HostToWebviewMessage>;

  constructor(
    extensionUri: vscode.Uri,
    /** Everything the view shows, sent whenever its webview (re)loads. */
    snapshot: () => HostToWebviewMessage[],
    onAction: (message: ActionOf<WebviewToHostMessage>) => void | Promise<void>,
    output: vscode.LogOutputChannel,
  ) {
    this.host = new WebviewViewHost({
      extensionUri,
      name: 'the Keel sidebar',
      page: {
        script: 'sidebar.js',
        style: 'sidebar.css',
        title: 'Keel',
        main: '<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>',
      },
      incoming: WebviewToHostMessage,
      catchUp: snapshot,
      handle: onAction,
      output,
      onReady: () => this.sendPendingReveal(),
      onClosed: () => (this.view = null),
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.host.resolve(view);
    view.badge = this.badge;
  }

  /** Shows the sidebar and marks the run in its list. */
  async revealRun(id: string): Promise<void> {
    this.pendingReveal = id;
    if (this.view) this.view.show(true);
    else await vscode.commands.executeCommand(`${SidebarViewProvider.viewId}.focus`);
    if (this.view?.visible) this.sendPendingReveal();
  }

  /** Shows how many proposals wait for the operator on the view and its activity-bar icon. */
  setWaitingApprovals(count: number): void {
    // Zero, not undefined: VS Code 1.100's webview view keeps the last badge on the activity bar
    // when it is set to undefined (its tree views clear it); a zero count shows no badge.
    this.badge = {
      value: count,
      tooltip: count > 0 ? `${count} ${count === 1 ? 'approval' : 'approvals'} waiting for you` : '',
    };
    if (this.view) this.view.badge = this.badge;
  }

  /** Sends to the webview; a hidden or not-yet-opened view catches up when it says `ready`. */
  post(message: HostToWebviewMessage): void {
    this.host.post(message);
  }

  dispose(): void {
    this.host.dispose();
  }

  private sendPendingReveal(): void {
    if (this.pendingReveal === null) return;
    this.post({ type: 'revealRun', id: this.pendingReveal });
    this.pendingReveal = null;
  }
}
