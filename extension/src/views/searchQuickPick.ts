/**
 * Keel: Search Memory. A quick pick that searches as you type (debounced, newest answer wins) and
 * opens the chosen note at the result's line.
 */
import * as vscode from 'vscode';
import { MemorySearchRequest, type SearchResult } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';

const DEBOUNCE_MS = 120;
const RESULTS = 20;

interface ResultItem extends vscode.QuickPickItem {
  result: SearchResult;
}

export function showSearchQuickPick(client: DaemonClient, folder: string): Promise<void> {
  const pick = vscode.window.createQuickPick<ResultItem>();
  pick.title = 'Keel: Search Memory';
  pick.placeholder = 'Search your notes (customers, contracts, decisions…)';
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
      const { results } = await client.request(MemorySearchRequest, { query, k: RESULTS });
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

/** Opens a workspace file with the cursor on a 1-based line (and column), scrolled into the middle. */
export async function openResult(folder: string, path: string, line: number, column = 1): Promise<void> {
  const uri = vscode.Uri.joinPath(vscode.Uri.file(folder), ...path.split('/'));
  const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
  const editor = await vscode.window.showTextDocument(uri, {
    selection: new vscode.Range(position, position),
  });
  editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
}

function toItem(result: SearchResult): ResultItem {
  const name = result.path.split('/').at(-1) ?? result.path;
  return {
    label: result.heading ? `${name} › ${result.heading.split(' > ').at(-1)}` : name,
    description: `${result.path}:${result.startLine}${result.stale ? '  $(warning) stale' : ''}`,
    detail: result.text.replace(/\s+/g, ' ').slice(0, 200),
    alwaysShow: true,
    result,
  };
}
