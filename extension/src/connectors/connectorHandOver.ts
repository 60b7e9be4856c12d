/**
 * Handing the editor's stored connector credentials to a daemon that just started. Kept apart from
 * the command (connectorSecrets.ts) so that DaemonClient can call it without an import cycle.
 */
import type { ConnectorInfo } from '@keel/schemas';

export type ConnectorSecretSource = (connector: string, credential: string) => Thenable<string | undefined>;

/**
 * Hands every stored credential keel.yaml asks the editor for to the daemon, through `send` (which
 * registers the value for redaction before the request is traced). Returns how many.
 */
export async function handOverConnectorSecrets(
  list: () => Promise<ConnectorInfo[]>,
  source: ConnectorSecretSource,
  send: (connector: string, credential: string, value: string) => Promise<void>,
): Promise<number> {
  const connectors = await list();
  let sent = 0;
  for (const connector of connectors) {
    for (const credential of connector.credentials.filter((c) => c.from === 'secret')) {
      const value = await source(connector.name, credential.name);
      if (!value) continue;
      await send(connector.name, credential.name, value);
      sent++;
    }
  }
  return sent;
}
