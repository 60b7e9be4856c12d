/**
 * The Keel status-bar item: the daemon's state and the approvals waiting, at a glance; clicking it
 * opens the approval inbox when something waits, else the sidebar.
 */
import * as vscode from 'vscode';
import type { SidebarState } from '@keel/schemas/src/webviews';
import { FOCUS_SIDEBAR, type KeelCommand } from '../commandIds';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'keel.status',
    vscode.StatusBarAlignment.Left,
    10,
  );

  constructor() {
    this.item.name = 'Keel';
    this.item.command = FOCUS_SIDEBAR;
  }

  /** `waiting`: proposals waiting for the operator's decision. */
  render(state: SidebarState, waiting: number): void {
    const { text, tooltip, error } = withApprovals(describe(state), state, waiting);
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command =
      state.connection === 'running' && waiting > 0
        ? ('keel.openApprovalInbox' satisfies KeelCommand)
        : FOCUS_SIDEBAR;
    this.item.backgroundColor = error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

function withApprovals(
  described: { text: string; tooltip: string; error: boolean },
  state: SidebarState,
  waiting: number,
): { text: string; tooltip: string; error: boolean } {
  if (state.connection !== 'running' || waiting === 0) return described;
  const words = `${waiting} ${waiting === 1 ? 'approval' : 'approvals'} waiting for you`;
  return {
    ...described,
    text: `${described.text} $(bell-dot) ${waiting}`,
    tooltip: `${described.tooltip}; ${words} (click to open the approval inbox)`,
  };
}

function describe(state: SidebarState): { text: string; tooltip: string; error: boolean } {
  if (state.connection === 'noFolder') {
    return { text: '$(circle-outline) Keel', tooltip: 'Keel: open a folder to use Keel', error: false };
  }
  if (!state.initialized && state.connection !== 'running') {
    return {
      text: '$(circle-outline) Keel: not set up',
      tooltip: 'This folder is not a Keel workspace yet. Click to set it up.',
      error: false,
    };
  }
  switch (state.connection) {
    case 'running': {
      const daemon = state.daemon;
      if (daemon?.config === 'invalid') {
        return {
          text: '$(warning) Keel: keel.yaml invalid',
          tooltip: daemon.problems.map((p) => `${p.path}:${p.line}:${p.column} ${p.message}`).join('\n'),
          error: true,
        };
      }
      const index = state.index;
      const progress = index?.progress;
      if (index && progress && progress.phase === 'indexing' && progress.total > 0) {
        const percent = Math.floor((progress.done / progress.total) * 100);
        return {
          text: `$(sync~spin) Keel: indexing ${percent}%`,
          tooltip: `Indexing ${progress.done.toLocaleString()} of ${progress.total.toLocaleString()} changed files`,
          error: false,
        };
      }
      if (index && index.state !== 'ready') {
        return {
          text: `$(sync~spin) Keel: ${index.state}`,
          tooltip: `The memory index is ${index.state}`,
          error: false,
        };
      }
      const notes = index ? `${index.documents.toLocaleString()} notes indexed` : 'memory index not open';
      return {
        text: '$(pass-filled) Keel',
        tooltip: `Keel daemon running for ${state.folder ?? ''} (pid ${daemon?.pid ?? '?'}); ${notes}`,
        error: false,
      };
    }
    case 'starting':
      return { text: '$(sync~spin) Keel: starting', tooltip: 'The Keel daemon is starting', error: false };
    case 'restarting':
      return { text: '$(sync~spin) Keel: restarting', tooltip: state.lastError ?? '', error: false };
    case 'stopped':
      return { text: '$(circle-slash) Keel: stopped', tooltip: 'The Keel daemon is stopped', error: false };
    default:
      return {
        text: '$(error) Keel: failed',
        tooltip: state.lastError ?? 'The Keel daemon failed',
        error: true,
      };
  }
}
