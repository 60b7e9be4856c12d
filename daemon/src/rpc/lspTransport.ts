/**
 * Serves the router on a vscode-languageserver connection (the extension's transport): every
 * method becomes a request handler, daemon notifications are sent to the editor, problems in
 * workspace files (keel.yaml, notes) are published as diagnostics on those files, and runbooks
 * open in the editor are checked and assisted as they are edited.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DiagnosticSeverity,
  ResponseError,
  type Connection,
  type Diagnostic,
  type ServerCapabilities,
} from 'vscode-languageserver/node';
import {
  IndexChangedNotification,
  RunbooksChangedNotification,
  KeelRpcError,
  StatusChangedNotification,
  type Problem,
} from '@keel/schemas';
import type { Daemon } from '../daemon';
import {
  canonicalFilePath,
  RUNBOOK_DOCUMENT_CAPABILITIES,
  RunbookDocuments,
  type LiveDiagnosticsSink,
} from '../editor/runbookDocuments';

const DIAGNOSTICS_DEBOUNCE_MS = 100;

/** Serves `daemon` on `connection`; returns the capabilities to announce in the initialize result. */
export function serveOverLsp(connection: Connection, daemon: Daemon): ServerCapabilities {
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
  const runbooks = new RunbookDocuments({
    workspace: daemon.workspace,
    runbooksDir: () => daemon.runbooksDir,
    diagnostics,
    handoffProblems: (node) => daemon.handoffProblems(node),
    connectors: () => daemon.editorConnectors(),
  });
  runbooks.listen(connection);
  return RUNBOOK_DOCUMENT_CAPABILITIES;
}

/**
 * Keeps the editor's diagnostics equal to the daemon's list of problems, except for documents
 * open with live diagnostics (from their unsaved text): those win until the document closes. Both
 * views are kept per file and every send is made synchronously from them, so they never race.
 */
class DiagnosticsPublisher implements LiveDiagnosticsSink {
  /** From daemon.problems(), by absolute file path. */
  private disk = new Map<string, Diagnostic[]>();
  /** From open documents' text, by absolute file path, with the editor's own URI for it. */
  private live = new Map<string, { uri: string; diagnostics: Diagnostic[] }>();
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

  setLive(uri: string, problems: Problem[]): void {
    const path = canonicalFilePath(uri);
    this.live.set(path, { uri, diagnostics: problems.map(toDiagnostic) });
    this.send(path);
  }

  clearLive(uri: string): void {
    const path = canonicalFilePath(uri);
    this.live.delete(path);
    // The editor may spell the file's URI differently from ours: clear its spelling first.
    if (uri !== pathToFileURL(path).toString()) this.sendTo(uri, []);
    this.send(path);
  }

  private async publish(): Promise<void> {
    const next = new Map<string, Diagnostic[]>();
    for (const problem of await this.daemon.problems()) {
      const path = join(this.daemon.workspace, problem.path);
      next.set(path, [...(next.get(path) ?? []), toDiagnostic(problem)]);
    }
    const paths = new Set([...this.disk.keys(), ...next.keys()]);
    this.disk = next;
    for (const path of paths) this.send(path);
  }

  /** Sends the diagnostics that win for one file now: the live view if open, else the disk's. */
  private send(path: string): void {
    const live = this.live.get(path);
    if (live) this.sendTo(live.uri, live.diagnostics);
    else this.sendTo(pathToFileURL(path).toString(), this.disk.get(path) ?? []);
  }

  private sendTo(uri: string, diagnostics: Diagnostic[]): void {
    this.connection.sendDiagnostics({ uri, diagnostics }).catch((error: unknown) => {
      this.daemon.log.debug('publishing diagnostics failed', { uri, error });
    });
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
