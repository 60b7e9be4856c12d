/**
 * Serves the router on a vscode-languageserver connection (the extension's transport): every
 * method becomes a request handler, daemon notifications are sent to the editor, and problems in
 * workspace files (keel.yaml, notes) are published as diagnostics on those files.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DiagnosticSeverity,
  ResponseError,
  type Connection,
  type Diagnostic,
} from 'vscode-languageserver/node';
import {
  IndexChangedNotification,
  RunbooksChangedNotification,
  KeelRpcError,
  StatusChangedNotification,
  type Problem,
} from '@keel/schemas';
import type { Daemon } from '../daemon';

const DIAGNOSTICS_DEBOUNCE_MS = 100;

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
  const diagnostics = new DiagnosticsPublisher(connection, daemon);
  daemon.addNotificationSink((method, params) => {
    connection.sendNotification(method, params).catch((error: unknown) => {
      daemon.log.debug('could not notify the editor', { method, error });
    });
    if (
      method === StatusChangedNotification.method ||
      method === IndexChangedNotification.method ||
      method === RunbooksChangedNotification.method
    ) {
      diagnostics.schedule();
    }
  });
  diagnostics.schedule();
}

/** Keeps the editor's diagnostics equal to the daemon's list of problems. */
class DiagnosticsPublisher {
  private published = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connection: Connection,
    private readonly daemon: Daemon,
  ) {}

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.publish().catch((error: unknown) =>
        this.daemon.log.debug('publishing diagnostics failed', { error }),
      );
    }, DIAGNOSTICS_DEBOUNCE_MS);
  }

  private async publish(): Promise<void> {
    const byUri = new Map<string, Diagnostic[]>();
    for (const problem of await this.daemon.problems()) {
      const uri = pathToFileURL(join(this.daemon.workspace, problem.path)).toString();
      byUri.set(uri, [...(byUri.get(uri) ?? []), toDiagnostic(problem)]);
    }
    for (const uri of this.published) {
      if (!byUri.has(uri)) await this.connection.sendDiagnostics({ uri, diagnostics: [] });
    }
    for (const [uri, diagnostics] of byUri) await this.connection.sendDiagnostics({ uri, diagnostics });
    this.published = new Set(byUri.keys());
  }
}

function toDiagnostic(problem: Problem): Diagnostic {
  const start = { line: problem.line - 1, character: problem.column - 1 };
  const end =
    problem.endLine !== undefined && problem.endColumn !== undefined
      ? { line: problem.endLine - 1, character: Math.max(problem.endColumn - 1, start.character + 1) }
      : { line: start.line, character: start.character + 1 };
  return {
    range: { start, end },
    severity: problem.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    source: 'keel',
    message: problem.message,
  };
}
