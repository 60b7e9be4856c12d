/** What the sidebar and the status bar show, composed from the folder and the daemon client. */
import type { SidebarState } from '@keel/schemas';
import type { DaemonClientSnapshot } from '../daemonClient';

export function composeSidebarState(
  folder: string | null,
  initialized: boolean,
  client: DaemonClientSnapshot | null,
): SidebarState {
  if (!folder || !client) {
    return {
      connection: 'noFolder',
      folder: null,
      initialized: false,
      daemon: null,
      restarts: 0,
      nextRestartAt: null,
      lastError: null,
      index: null,
    };
  }
  return {
    connection: client.connection,
    folder,
    initialized: initialized || (client.daemon !== null && client.daemon.config !== 'missing'),
    daemon: client.daemon,
    restarts: client.restarts,
    nextRestartAt: client.nextRestartAt,
    lastError: client.lastError,
    index: client.index,
  };
}
