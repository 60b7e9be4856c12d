/**
 * Keel's VS Code extension: thin by design. It starts the workspace's daemon, renders its state in
 * the sidebar and the status bar, and turns the operator's gestures into requests.
 */
import * as vscode from 'vscode';
import { MemorySearchRequest, type WebviewToHostMessage } from '@keel/schemas';
import { registerCommands, type CommandId } from './commands';
import { DaemonClient } from './daemonClient';
import { composeSidebarState } from './views/sidebarState';
import { openResult } from './views/searchQuickPick';
import { SidebarViewProvider } from './views/sidebarView';
import { StatusBar } from './views/statusBar';
import { WorkspaceTracker } from './workspaceTracker';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Keel', { log: true });
  const folder = firstLocalFolder();
  const daemonModule = context.asAbsolutePath('dist/keeld.js');
  const client = folder ? new DaemonClient(folder, daemonModule, output) : null;
  const tracker = folder ? new WorkspaceTracker(folder) : null;

  const state = () => composeSidebarState(folder, tracker?.initialized ?? false, client?.state ?? null);
  const statusBar = new StatusBar();
  const sidebar: SidebarViewProvider = new SidebarViewProvider(
    context.extensionUri,
    state,
    (message) => void runSidebarAction(message, { folder, client, sidebar }),
    output,
  );
  const render = (): void => {
    const current = state();
    statusBar.render(current);
    sidebar.update(current);
    void vscode.commands.executeCommand('setContext', 'keel.connection', current.connection);
  };

  context.subscriptions.push(
    output,
    statusBar,
    sidebar,
    vscode.window.registerWebviewViewProvider(SidebarViewProvider.viewId, sidebar),
    ...registerCommands({ folder, client, tracker, output }),
  );
  if (client && tracker) {
    context.subscriptions.push(
      client,
      tracker,
      client.onDidChange(render),
      tracker.onDidChange((initialized) => {
        render();
        // keel.yaml appeared (keel init in a terminal, a git checkout): bring the daemon up.
        if (initialized) void client.start();
      }),
    );
    if (await tracker.refresh()) void client.start();
  }
  render();
}

export function deactivate(): void {
  // Disposables in context.subscriptions stop the daemon client.
}

function firstLocalFolder(): string | null {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  return folder ? folder.uri.fsPath : null;
}

interface SidebarContext {
  folder: string | null;
  client: DaemonClient | null;
  sidebar: SidebarViewProvider;
}

async function runSidebarAction(message: WebviewToHostMessage, context: SidebarContext): Promise<void> {
  const commands: Record<'initWorkspace' | 'restartDaemon' | 'showLogs', CommandId> = {
    initWorkspace: 'keel.initWorkspace',
    restartDaemon: 'keel.restartDaemon',
    showLogs: 'keel.showLogs',
  };
  switch (message.type) {
    case 'ready':
      return;
    case 'openFolder':
      await vscode.commands.executeCommand('vscode.openFolder');
      return;
    case 'search':
      await searchFromSidebar(message.requestId, message.query, context);
      return;
    case 'openResult':
      if (context.folder) await openResult(context.folder, message.path, message.line);
      return;
    default:
      await vscode.commands.executeCommand(commands[message.type]);
  }
}

async function searchFromSidebar(requestId: number, query: string, context: SidebarContext): Promise<void> {
  const answer = { type: 'searchResults' as const, requestId, query };
  if (!context.client || query.trim() === '') {
    context.sidebar.post({ ...answer, results: [], error: null });
    return;
  }
  try {
    const { results } = await context.client.request(MemorySearchRequest, { query, k: 20 });
    context.sidebar.post({ ...answer, results, error: null });
  } catch (error) {
    context.sidebar.post({ ...answer, results: [], error: (error as Error).message });
  }
}
