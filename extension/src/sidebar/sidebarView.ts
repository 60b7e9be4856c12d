/**
 * The Keel sidebar: a webview view in Keel's activity-bar container. It renders `SidebarState`, the
 * approvals (counted by the view's badge), the runbooks and the recent runs, and turns the
 * operator's clicks into typed messages, which are validated here before use.
 */
import * as vscode from 'vscode';
import { ReadyHandshake } from '../webviewHost/readyHandshake';
import { webviewPage } from '../webviewHost/webviewPage';
import { WebviewToHostMessage, type HostToWebviewMessage } from '@keel/schemas';

export class SidebarViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'keel.sidebar';
  private view: vscode.WebviewView | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  /** A run to mark once the view can show it (it may be hidden, or not loaded yet). */
  private pendingReveal: string | null = null;
  /** The number on the Keel icon: proposals waiting for the operator. */
  private badge: vscode.ViewBadge = { value: 0, tooltip: '' };
  /** Sends everything the view shows until its script says `ready`, and once more when it does. */
  private readonly handshake = new ReadyHandshake(() => this.catchUp());

  constructor(
    private readonly extensionUri: vscode.Uri,
    /** Everything the view shows, sent whenever its webview (re)loads. */
    private readonly snapshot: () => HostToWebviewMessage[],
    private readonly onAction: (message: WebviewToHostMessage) => void,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    view.webview.html = webviewPage(view.webview, {
      script: vscode.Uri.joinPath(dist, 'sidebar.js'),
      style: vscode.Uri.joinPath(media, 'sidebar.css'),
      title: 'Keel',
      main: '<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>',
    });
    view.badge = this.badge;
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      // A hidden view's page is dropped; shown again, it loads anew and needs the state again.
      view.onDidChangeVisibility(() => {
        if (view.visible) this.handshake.start();
      }),
      view.onDidDispose(() => {
        this.view = null;
        this.handshake.dispose();
      }),
    );
    this.handshake.start();
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

  dispose(): void {
    this.handshake.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private receive(raw: unknown): void {
    const message = WebviewToHostMessage.safeParse(raw);
    if (!message.success) {
      this.output.warn(`Ignored a malformed message from the Keel sidebar: ${JSON.stringify(raw)}`);
      return;
    }
    if (message.data.type === 'ready') {
      this.handshake.ready();
      this.sendPendingReveal();
    } else {
      this.onAction(message.data);
    }
  }

  private catchUp(): void {
    for (const current of this.snapshot()) this.post(current);
  }

  private sendPendingReveal(): void {
    if (this.pendingReveal === null) return;
    this.post({ type: 'revealRun', id: this.pendingReveal });
    this.pendingReveal = null;
  }

  /** Sends to the webview; a hidden or not-yet-opened view catches up when it says `ready`. */
  post(message: HostToWebviewMessage): void {
    void this.view?.webview.postMessage(message);
  }
}
