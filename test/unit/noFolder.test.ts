/**
 * Keel without a folder: every command says to open one and does nothing else (no daemon, no
 * request, no error), but Show Logs, which needs none; choosing Open Folder opens VS Code's folder
 * picker; Restricted Mode's answer comes first, as with a folder. The emergency stop and the
 * sidebar's actions answer the same way. VS Code's API is faked: only what these paths use.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as vscode from 'vscode';

const handlers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
/** Every call into the editor's UI, in order: what the operator would see or what would run. */
const calls: string[] = [];
let warningAnswer: string | undefined;
let trusted = true;

vi.mock('vscode', () => ({
  commands: {
    registerCommand: (id: string, handler: (...args: unknown[]) => Promise<unknown>) => {
      handlers.set(id, handler);
      return { dispose: () => handlers.delete(id) };
    },
    executeCommand: (id: string) => {
      calls.push(`execute ${id}`);
      return Promise.resolve(undefined);
    },
  },
  window: {
    showWarningMessage: (text: string, ...items: unknown[]) => {
      calls.push(`warning ${text} [${items.join(', ')}]`);
      return Promise.resolve(warningAnswer);
    },
    showErrorMessage: (text: string) => {
      calls.push(`error ${text}`);
      return Promise.resolve(undefined);
    },
    showInformationMessage: (text: string) => {
      calls.push(`information ${text}`);
      return Promise.resolve(undefined);
    },
  },
  workspace: {
    get isTrusted() {
      return trusted;
    },
  },
}));

const { registerCommandsWithoutFolder } = await import('../../extension/src/commands');
const { registerEmergencyCommandsWithoutFolder } =
  await import('../../extension/src/dashboard/emergencyStop');
const { runSidebarActionWithoutFolder } = await import('../../extension/src/sidebar/sidebarActions');
const { EMERGENCY_STOP_COMMANDS, TRUSTED_ONLY, WORKSPACE_COMMANDS } =
  await import('../../extension/src/commandIds');
type SidebarViewProvider = import('../../extension/src/sidebar/sidebarView').SidebarViewProvider;

const ASK_FOR_FOLDER = 'warning Keel works on a folder: open one first. [Open Folder]';

function fakeOutput(): vscode.LogOutputChannel {
  const log = (level: string) => (text: string) => calls.push(`log ${level} ${text}`);
  return {
    show: () => calls.push('show logs'),
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
  } as unknown as vscode.LogOutputChannel;
}

async function run(id: string, ...args: unknown[]): Promise<string[]> {
  calls.length = 0;
  const handler = handlers.get(id);
  if (!handler) throw new Error(`${id} is not registered`);
  await handler(...args);
  return [...calls];
}

afterEach(() => {
  handlers.clear();
  warningAnswer = undefined;
  trusted = true;
});

describe('commands without a folder', () => {
  it('say to open a folder and do nothing else, but Show Logs', async () => {
    registerCommandsWithoutFolder({ output: fakeOutput() });
    registerEmergencyCommandsWithoutFolder();
    for (const id of [...WORKSPACE_COMMANDS, ...EMERGENCY_STOP_COMMANDS]) {
      // Arguments as a link or the sidebar would pass them: still nothing but the answer.
      const seen = await run(id, 'some-id');
      expect(seen, id).toEqual([id === 'keel.showLogs' ? 'show logs' : ASK_FOR_FOLDER]);
    }
  });

  it('open the folder picker when the operator chooses Open Folder', async () => {
    registerCommandsWithoutFolder({ output: fakeOutput() });
    warningAnswer = 'Open Folder';
    expect(await run('keel.runRunbook')).toEqual([ASK_FOR_FOLDER, 'execute vscode.openFolder']);
  });

  it('explain Restricted Mode first for what it disables', async () => {
    registerCommandsWithoutFolder({ output: fakeOutput() });
    trusted = false;
    expect(await run('keel.approveProposal', 'p1')).toEqual([
      expect.stringMatching(/^warning Keel: this workspace is in Restricted Mode\./),
    ]);
    // What Restricted Mode allows still only asks for a folder.
    expect(TRUSTED_ONLY.has('keel.searchMemory')).toBe(false);
    expect(await run('keel.searchMemory')).toEqual([ASK_FOR_FOLDER]);
  });
});

describe("the sidebar's actions without a folder", () => {
  const posted: unknown[] = [];
  const sidebar = { post: (message: unknown) => posted.push(message) } as unknown as SidebarViewProvider;

  it('open the folder picker from its one button', async () => {
    calls.length = 0;
    await runSidebarActionWithoutFolder({ type: 'openFolder' }, sidebar, fakeOutput());
    expect(calls).toEqual(['execute vscode.openFolder']);
  });

  it('answer a search with no results, and ask for a folder for a run or a proposal', async () => {
    calls.length = 0;
    posted.length = 0;
    await runSidebarActionWithoutFolder(
      { type: 'search', requestId: 7, query: 'acme' },
      sidebar,
      fakeOutput(),
    );
    expect(posted).toEqual([
      { type: 'searchResults', requestId: 7, query: 'acme', results: [], error: null },
    ]);
    expect(calls).toEqual([]);
    await runSidebarActionWithoutFolder({ type: 'runRunbook', runbook: 'triage' }, sidebar, fakeOutput());
    await runSidebarActionWithoutFolder({ type: 'openProposal', id: 'p1' }, sidebar, fakeOutput());
    expect(calls).toEqual([ASK_FOR_FOLDER, ASK_FOR_FOLDER]);
  });
});
