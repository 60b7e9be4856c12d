/** `keel/connectors/*`: credentials the editor keeps in its secret storage, handed over in memory. */
import { SetConnectorSecretRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerConnectorHandlers(router: Router, daemon: Daemon): void {
  router.handle(SetConnectorSecretRequest, ({ connector, credential, value }) => {
    daemon.connectorSecrets.set(connector, credential, value);
    return Promise.resolve({ ok: true as const });
  });
}
