/**
 * Keel: Search Memory. A quick pick that searches as you type (debounced, newest answer wins) and
 * opens the chosen note at the result's line. It searches notes and finished runs: a run hit
 * (`run:<id>`) opens the run's trace view, never a file.
 */
import * as vscode from 'vscode';
import { MemorySearchRequest, type SearchResult } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';

const DEBOUNCE_MS = 120;
const RESULTS = 20;
const RUN_PREFIX = 'run:';

interface ResultItem extends vscode.QuickPickItem {
  result: SearchResult;
}

export function showSearchQuickPick(client: DaemonClient, folder: string): Promise<void> {
  const pick = vscode.window.createQuickPick<ResultItem>();
  pick.title = 'Keel: Search Memory';
  pick.placeholder = 'Search your notes and past runs (customers, contracts, decisions…)';
  // The daemon ranks the results; VS Code must not filter them again by label.
  pick.matchOnDescription = false;
  pick.matchOnDetail = false;
  let timer: NodeJS.Timeout | null = null;
  let latest = 0;

  const search = async (query: string): Promise<void> => {
    const requestId = ++latest;
    if (query.trim() === '') {
      pick.items = [];
      pick.busy = false;
      return;
    }
    pick.busy = true;
    try {
      const { results } = await client.request(MemorySearchRequest, {
        query,
        k: RESULTS,
        filter: { kind: 'any' },
      });
      if (requestId !== latest) return;
      pick.items = results.map(toItem);
      if (results.length === 0) pick.placeholder = `Nothing found for "${query}"`;
    } catch (error) {
      if (requestId !== latest) return;
      pick.items = [];
      pick.placeholder = `Search failed: ${(error as Error).message}`;
    } finally {
      if (requestId === latest) pick.busy = false;
    }
  };

  return new Promise((resolve) => {
    pick.onDidChangeValue((value) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void search(value), DEBOUNCE_MS);
    });
    pick.onDidAccept(() => {
      const chosen = pick.selectedItems[0] ?? pick.activeItems[0];
      pick.hide();
      if (chosen) void openResult(folder, chosen.result.path, chosen.result.startLine);
    });
    pick.onDidHide(() => {
      if (timer) clearTimeout(timer);
      pick.dispose();
      resolve();
    });
    pick.show();
  });
}

/**
 * Opens a workspace file with the cursor on a 1-based line (and column), scrolled into the middle;
 * a run hit (`run:<id>`) opens that run's trace instead: it names a run, not a file.
 */
export async function openResult(folder: string, path: string, line: number, column = 1): Promise<void> {
  if (path.startsWith(RUN_PREFIX)) {
    await vscode.commands.executeCommand('keel.showRunTrace', path.slice(RUN_PREFIX.length));
    return;
  }
  const uri = vscode.Uri.joinPath(vscode.Uri.file(folder), ...path.split('/'));
  const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
  const editor = await vscode.window.showTextDocument(uri, {
    selection: new vscode.Range(position, position),
  });
  editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
}

function toItem(result: SearchResult): ResultItem {
  if (result.kind === 'run') {
    return {
      label: `$(history) ${result.heading}`,
      description: `run ${result.runId ?? result.path}${result.date ? `  ${result.date}` : ''}`,
      detail: result.text.replace(/\s+/g, ' ').slice(0, 200),
      alwaysShow: true,
      result,
    };
  }
  const name = result.path.split('/').at(-1) ?? result.path;
  return {
    label: result.heading ? `${name} › ${result.heading.split(' > ').at(-1)}` : name,
    description: `${result.path}:${result.startLine}${result.stale ? '  $(warning) stale' : ''}`,
    detail: result.text.replace(/\s+/g, ' ').slice(0, 200),
    alwaysShow: true,
    result,
  };
}
