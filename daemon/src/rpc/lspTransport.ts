/**
 * Serves the router on a vscode-languageserver connection (the extension's transport): every
 * method becomes a request handler, and daemon notifications are sent to the editor.
 */
import { ResponseError, type Connection } from 'vscode-languageserver/node';
import { KeelRpcError } from '@keel/schemas';
import type { Daemon } from '../daemon';

export function serveOverLsp(connection: Connection, daemon: Daemon): void {
  for (const method of daemon.router.methods()) {
    connection.onRequest(method, async (params: unknown) => {
      try {
        return await daemon.router.dispatch(method, params, { transport: 'lsp' });
      } catch (error) {
        if (error instanceof KeelRpcError) return new ResponseError(error.code, error.message, error.data);
        throw error;
      }
    });
  }
  daemon.addNotificationSink((method, params) => {
    connection.sendNotification(method, params).catch((error: unknown) => {
      daemon.log.debug('could not notify the editor', { method, error });
    });
  });
}
