/** What the sidebar and the status bar show, composed from the folder and the daemon client. */
import type { SidebarState } from '@keel/schemas/src/webviews';
import type { DaemonClientSnapshot } from '../daemonClient';

export function composeSidebarState(
  folder: string,
  initialized: boolean,
  client: DaemonClientSnapshot,
  editorTrusted: boolean,
): SidebarState {
  return {
    connection: client.connection,
    folder,
    editorTrusted,
    initialized: initialized || (client.daemon !== null && client.daemon.config !== 'missing'),
    // The snapshot's uptime is as of the daemon's last status; the webview counts on from each state
    // it receives, so send the uptime as of now (the daemon runs on this machine: same clock).
    daemon: client.daemon && {
      ...client.daemon,
      uptimeMs: Math.max(0, Date.now() - Date.parse(client.daemon.startedAt)),
    },
    restarts: client.restarts,
    nextRestartAt: client.nextRestartAt,
    lastError: client.lastError,
    index: client.index,
  };
}

/** No folder is open: the sidebar invites the operator to open one. */
export function noFolderState(editorTrusted: boolean): SidebarState {
  return {
    connection: 'noFolder',
    folder: null,
    editorTrusted,
    initialized: false,
    daemon: null,
    restarts: 0,
    nextRestartAt: null,
    lastError: null,
    index: null,
  };
}
