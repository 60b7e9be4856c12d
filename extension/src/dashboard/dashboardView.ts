/**
 * The Keel Dashboard: a webview view of its own in Keel's activity-bar container, next to the
 * sidebar. It shows the feed's snapshots and turns the operator's clicks, validated here, into
 * commands. Its content security policy lets only its own bundled script run.
 */
import * as vscode from 'vscode';
import { ReadyHandshake } from '../webviewHost/readyHandshake';
import { webviewPage } from '../webviewHost/webviewPage';
import { DashboardToHostMessage, type DashboardSnapshot, type HostToDashboardMessage } from '@keel/schemas';
import { executeKeelCommand } from '../executeKeelCommand';

export class DashboardViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'keel.dashboard';
  private view: vscode.WebviewView | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  private busy: 'stopping' | 'resuming' | null = null;
  /** Sends the snapshot until the script says `ready`, and once more when it does. */
  private readonly handshake = new ReadyHandshake(() => this.catchUp());

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly snapshot: () => DashboardSnapshot,
    /** The view shows or hides: the feed fetches only while it is visible. */
    private readonly onVisible: (visible: boolean) => void,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    view.webview.html = webviewPage(view.webview, {
      script: vscode.Uri.joinPath(dist, 'dashboard.js'),
      style: vscode.Uri.joinPath(media, 'dashboard.css'),
      title: 'Keel Dashboard',
      main: '<main id="dashboard" aria-busy="true"><p class="muted">Loading…</p></main>',
    });
    this.disposables.push(
      view.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      view.onDidChangeVisibility(() => {
        this.onVisible(view.visible);
        // A hidden view's page is dropped; shown again, it loads anew and needs the state again.
        if (view.visible) this.handshake.start();
      }),
      view.onDidDispose(() => {
        this.view = null;
        this.handshake.dispose();
        this.onVisible(false);
      }),
    );
    // Visible now: the feed fetches without waiting for the script's `ready`, which may be late.
    this.onVisible(view.visible);
    this.handshake.start();
  }

  show(snapshot: DashboardSnapshot): void {
    this.post({ type: 'snapshot', snapshot });
  }

  setBusy(action: 'stopping' | 'resuming' | null): void {
    this.busy = action;
    this.post({ type: 'busy', action });
  }

  dispose(): void {
    this.handshake.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private receive(raw: unknown): void {
    const message = DashboardToHostMessage.safeParse(raw);
    if (!message.success) {
      this.output.warn(`Ignored a malformed message from the Keel dashboard: ${JSON.stringify(raw)}`);
      return;
    }
    switch (message.data.type) {
      case 'ready':
        this.handshake.ready();
        this.onVisible(this.view?.visible ?? false);
        return;
      case 'emergencyStop':
        void executeKeelCommand('keel.emergencyStop');
        return;
      case 'resume':
        void executeKeelCommand('keel.resume');
        return;
      case 'showRunTrace':
        void executeKeelCommand('keel.showRunTrace', message.data.id);
        return;
      case 'rerun':
        void executeKeelCommand('keel.rerunRun', message.data.id);
        return;
    }
  }

  private catchUp(): void {
    this.show(this.snapshot());
    if (this.busy) this.post({ type: 'busy', action: this.busy });
  }

  /** Sends to the webview; a hidden or not-yet-opened view catches up when it says `ready`. */
  private post(message: HostToDashboardMessage): void {
    void this.view?.webview.postMessage(message);
  }
}
