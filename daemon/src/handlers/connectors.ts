/**
 * `keel/connectors/*`: where each connector stands (list, check) and the credentials the editor
 * keeps in its secret storage, handed over in memory.
 */
import { ConnectorsCheckRequest, ConnectorsListRequest, SetConnectorSecretRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerConnectorHandlers(router: Router, daemon: Daemon): void {
  router.handle(SetConnectorSecretRequest, ({ connector, credential, value }) => {
    daemon.connectorSecrets.set(connector, credential, value);
    // A credential arriving (or forgotten) changes the connector's standing in the sidebar.
    daemon.connectorStatus.refresh();
    return Promise.resolve({ ok: true as const });
  });
  router.handle(ConnectorsListRequest, async () => {
    await daemon.settled();
    return { connectors: daemon.connectorStatus.list() };
  });
  router.handle(ConnectorsCheckRequest, async ({ name }) => {
    await daemon.settled();
    return { connectors: await daemon.connectorStatus.check(name) };
  });
}
