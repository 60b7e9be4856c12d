/**
 * Keel: Search Memory. A quick pick that searches as you type (debounced, newest answer wins) and
 * opens the chosen note at the result's line. It searches notes and finished runs: a run hit
 * (`run:<id>`) opens the run's trace view, never a file. With an "as of" moment it searches the
 * notes as they were in git then, and a chosen result opens as that past text (the file may have
 * changed since).
 */
import * as vscode from 'vscode';
import { MemorySearchAsOfRequest, MemorySearchRequest, type SearchResult } from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { executeKeelCommand } from '../executeKeelCommand';

const DEBOUNCE_MS = 120;
const RESULTS = 20;
const RUN_PREFIX = 'run:';

interface ResultItem extends vscode.QuickPickItem {
  result: SearchResult;
}

export function showSearchQuickPick(client: DaemonClient, folder: string, asOf?: string): Promise<void> {
  const pick = vscode.window.createQuickPick<ResultItem>();
  pick.title = asOf ? `Keel: Search Memory as of ${asOf}` : 'Keel: Search Memory';
  let commit: string | null = null;
  pick.placeholder = asOf
    ? 'Search your notes as they were then (customers, contracts, decisions…)'
    : 'Search your notes and past runs (customers, contracts, decisions…)';
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
      const { results, snapshot } = asOf
        ? await client.request(MemorySearchAsOfRequest, { query, k: RESULTS, asOf })
        : {
            ...(await client.request(MemorySearchRequest, { query, k: RESULTS, filter: { kind: 'any' } })),
            snapshot: null,
          };
      if (requestId !== latest) return;
      if (snapshot) {
        commit = snapshot.commit;
        pick.title = `Keel: Search Memory as of ${asOf} (commit ${commit.slice(0, 12)} of ${snapshot.committedAt})`;
      }
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
      if (chosen && commit) void openPastResult(chosen.result, commit);
      else if (chosen) void openResult(folder, chosen.result.path, chosen.result.startLine);
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
    await executeKeelCommand('keel.showRunTrace', path.slice(RUN_PREFIX.length));
    return;
  }
  const uri = vscode.Uri.joinPath(vscode.Uri.file(folder), ...path.split('/'));
  const position = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
  const editor = await vscode.window.showTextDocument(uri, {
    selection: new vscode.Range(position, position),
  });
  editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
}

/** A result of a past commit, as it read then, in a read-only untitled document. */
async function openPastResult(result: SearchResult, commit: string): Promise<void> {
  const header = `<!-- ${result.path}:${result.startLine}-${result.endLine} as of commit ${commit} -->\n\n`;
  const document = await vscode.workspace.openTextDocument({
    content: header + result.text,
    language: 'markdown',
  });
  await vscode.window.showTextDocument(document, { preview: true });
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
