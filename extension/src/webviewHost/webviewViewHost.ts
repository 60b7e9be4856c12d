/**
 * The one host of every Keel webview, a view in Keel's container or an editor panel: it writes the
 * page, checks each message from the script against the view's schema, runs the ready handshake
 * (again each time the view shows), posts, and disposes. What a view shows and what its messages
 * do stay in its feature's module.
 */
import * as vscode from 'vscode';
import type { z } from 'zod';
import { ReadyHandshake, WEBVIEW_RETRY } from './readyHandshake';
import { heardFrom, mayReload, reloadSilentView } from './silentWebview';
import { webviewPage } from './webviewPage';

/** The page of a webview: its bundle, its stylesheet and what shows until the script renders. */
export interface WebviewPageSpec {
  /** The bundle's file name in dist/webview (esbuild.mjs): `sidebar.js`. */
  script: string;
  /** The stylesheet's file name in media: `sidebar.css`. */
  style: string;
  title: string;
  main: string;
}

/** What every script says of itself (webview/ready.ts), which the host answers itself. */
type Lifecycle = { type: 'ready' } | { type: 'loaded' };
/** A message from a script other than its `ready` and `loaded`. */
export type ActionOf<In> = Exclude<In, Lifecycle>;

export interface WebviewHostSpec<In extends { type: string }, Out> {
  extensionUri: vscode.Uri;
  /** The view as the log names it: "the Keel sidebar". */
  name: string;
  page: WebviewPageSpec;
  /** The schema of the messages the script sends (@keel/schemas); anything else is logged and dropped. */
  incoming: z.ZodType<In>;
  /** Everything the view shows, sent until the script says `ready` and once more when it does. */
  catchUp: () => readonly Out[];
  /** What a message other than `ready` does; a failure is logged and shown, never thrown at the page. */
  handle: (message: ActionOf<In>) => void | Promise<void>;
  output: vscode.LogOutputChannel;
  /** After the catch-up that answers `ready`. */
  onReady?: () => void;
  /** The view shows or hides; false once it is closed. */
  onVisibility?: (visible: boolean) => void;
  /** The view or panel is gone (closed by the operator, or disposed). */
  onClosed?: () => void;
  /**
   * A panel whose page never loaded was closed: open it again in `column` (a new frame). A view
   * needs none: it is hidden and shown again (silentWebview.ts).
   */
  reopen?: (column: vscode.ViewColumn | undefined) => void | Promise<void>;
}

/** `In`: what the script sends the host; `Out`: what the host posts to the script. */
export class WebviewViewHost<In extends { type: string }, Out> implements vscode.Disposable {
  private surface: vscode.WebviewView | vscode.WebviewPanel | null = null;
  /** A panel this host opened, and so closes on dispose; a view belongs to VS Code. */
  private panel: vscode.WebviewPanel | null = null;
  private listeners: vscode.Disposable[] = [];
  private readonly handshake: ReadyHandshake;

  constructor(private readonly spec: WebviewHostSpec<In, Out>) {
    this.handshake = new ReadyHandshake(
      () => {
        for (const message of spec.catchUp()) this.post(message);
      },
      WEBVIEW_RETRY,
      () => void this.silent(),
    );
  }

  get visible(): boolean {
    return this.surface?.visible ?? false;
  }

  /** Takes the view VS Code resolved (`WebviewViewProvider.resolveWebviewView`). */
  resolve(view: vscode.WebviewView): void {
    view.webview.options = this.webviewOptions();
    this.attach(
      view,
      view.onDidChangeVisibility(() => this.visibilityChanged()),
    );
  }

  /** Opens the page in an editor panel of its own, in the active column unless told another. */
  openPanel(
    viewType: string,
    title: string,
    options: vscode.WebviewPanelOptions = {},
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ): vscode.WebviewPanel {
    const panel = vscode.window.createWebviewPanel(viewType, title, column, {
      ...this.webviewOptions(),
      ...options,
    });
    this.attach(
      panel,
      panel.onDidChangeViewState(() => this.visibilityChanged()),
    );
    this.panel = panel;
    return panel;
  }

  /** Sends to the script; a hidden or not-yet-loaded page catches up when it says `ready`. */
  post(message: Out): void {
    void this.surface?.webview.postMessage(message);
  }

  dispose(): void {
    // Closing the panel fires its onDidDispose, which detaches; a view only loses its listeners.
    this.panel?.dispose();
    this.detach();
  }

  private webviewOptions(): vscode.WebviewOptions {
    const { extensionUri } = this.spec;
    return {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(extensionUri, 'media'),
      ],
    };
  }

  private attach(surface: vscode.WebviewView | vscode.WebviewPanel, visibility: vscode.Disposable): void {
    this.detach();
    this.surface = surface;
    const { extensionUri, page } = this.spec;
    surface.webview.html = webviewPage(surface.webview, {
      script: vscode.Uri.joinPath(extensionUri, 'dist', 'webview', page.script),
      style: vscode.Uri.joinPath(extensionUri, 'media', page.style),
      title: page.title,
      main: page.main,
    });
    this.listeners = [
      visibility,
      surface.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      surface.onDidDispose(() => this.closed()),
    ];
    this.handshake.start();
  }

  /** A hidden page is dropped; shown again, it loads anew and needs the state again. */
  private visibilityChanged(): void {
    const visible = this.visible;
    this.spec.onVisibility?.(visible);
    if (visible) this.handshake.start();
  }

  /** The page said nothing through every catch-up: it never loaded (silentWebview.ts). */
  private async silent(): Promise<void> {
    const { name, output, reopen } = this.spec;
    const surface = this.surface;
    if (!surface?.visible) return;
    if (!('reveal' in surface)) return reloadSilentView(surface, name, output);
    if (!reopen || !mayReload(name, output)) return;
    const column = surface.viewColumn;
    surface.dispose();
    await reopen(column);
  }

  private closed(): void {
    this.detach();
    this.spec.onVisibility?.(false);
    this.spec.onClosed?.();
  }

  private detach(): void {
    this.handshake.dispose();
    for (const listener of this.listeners) listener.dispose();
    this.listeners = [];
    this.surface = null;
    this.panel = null;
  }

  private receive(raw: unknown): void {
    const parsed = this.spec.incoming.safeParse(raw);
    if (!parsed.success) {
      this.spec.output.warn(`Ignored a malformed message from ${this.spec.name}: ${JSON.stringify(raw)}`);
      return;
    }
    if (parsed.data.type === 'ready' || parsed.data.type === 'loaded') {
      heardFrom(this.spec.name);
      if (parsed.data.type === 'loaded') return this.handshake.loaded();
      this.handshake.ready();
      this.spec.onReady?.();
      return;
    }
    // The guard above leaves every other member of the union; TypeScript cannot narrow a generic.
    const message = parsed.data as ActionOf<In>;
    void (async () => this.spec.handle(message))().catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      this.spec.output.error(`${this.spec.name}: ${message.type} failed: ${text}`);
      void vscode.window.showErrorMessage(`Keel: ${text}`);
    });
  }
}
