/**
 * Runbooks open in the editor: their unsaved text is checked as it changes (diagnostics from the
 * live text win over the file on disk until the document closes), and completion and hovers come
 * from the runbook formats' JSON Schemas.
 */
import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type ServerCapabilities,
  type TextDocumentPositionParams,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Runbook, RunbookTestFile, toInputJsonSchema, type Problem } from '@keel/schemas';
import type { HandoffNode } from '../conductor/handoffGraph';
import { parseRunbook } from '../conductor/runbookFile';
import { parseYamlWithSchema } from '../files/yamlProblems';
import { SchemaAssist } from './schemaAssist';
import { connectorProblems, runbookSchemaWithConnectors } from './connectorSchemas';
import { findInstance, type ConnectorInstance } from '../connectors/registry';

/** Where live diagnostics go: the publisher that also owns the on-disk view. */
export interface LiveDiagnosticsSink {
  /** The problems of an open document's current text, replacing the on-disk view of its file. */
  setLive(uri: string, problems: Problem[]): void;
  /** The document closed: its file's on-disk problems apply again. */
  clearLive(uri: string): void;
}

type RunbookKind = 'runbook' | 'runbookTest';

interface Classified {
  kind: RunbookKind;
  /** Workspace-relative, with `/`: the `path` of its problems. */
  path: string;
}

export const RUNBOOK_DOCUMENT_CAPABILITIES: ServerCapabilities = {
  textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
  completionProvider: {},
  hoverProvider: true,
};

export interface RunbookDocumentsOptions {
  workspace: string;
  /** The runbooks folder, relative to the workspace; read on every event (keel.yaml may change). */
  runbooksDir: () => string;
  diagnostics: LiveDiagnosticsSink;
  /** Problems of the text's hand-offs against the saved runbooks (a missing runbook, a cycle). */
  handoffProblems?: (node: HandoffNode) => Promise<Problem[]>;
  /**
   * The workspace's connectors now (keel.yaml's and the built-ins), for `use:` and `with:`; an MCP
   * server's tools once it listed them.
   */
  connectors?: () => ConnectorInstance[] | Promise<ConnectorInstance[]>;
}

export class RunbookDocuments {
  private readonly documents = new TextDocuments(TextDocument);
  private readonly live = new Set<string>();
  private assists: Record<RunbookKind, SchemaAssist> | null = null;
  /** The connectors the runbook assist was made for: rebuilt when keel.yaml's connectors change. */
  private assistConnectors = '';

  constructor(private readonly options: RunbookDocumentsOptions) {}

  listen(connection: Connection): void {
    this.documents.onDidChangeContent(({ document }) => {
      this.check(document).catch(() => undefined);
    });
    this.documents.onDidClose(({ document }) => {
      if (this.live.delete(document.uri)) this.options.diagnostics.clearLive(document.uri);
    });
    connection.onCompletion(async (params) => {
      const at = await this.locate(params);
      return at ? at.assist.complete(at.document.getText(), at.offset, (o) => at.document.positionAt(o)) : [];
    });
    connection.onHover(async (params) => {
      const at = await this.locate(params);
      return at ? at.assist.hover(at.document.getText(), at.offset, (o) => at.document.positionAt(o)) : null;
    });
    this.documents.listen(connection);
  }

  private async check(document: TextDocument): Promise<void> {
    const classified = this.classify(document.uri);
    if (!classified) {
      // No longer a runbook (keel.yaml moved the folder): the on-disk view applies.
      if (this.live.delete(document.uri)) this.options.diagnostics.clearLive(document.uri);
      return;
    }
    const text = document.getText();
    if (classified.kind === 'runbookTest') {
      this.publish(document.uri, parseYamlWithSchema(text, RunbookTestFile, classified.path).problems);
      return;
    }
    const parsed = parseRunbook(text, classified.path);
    const version = document.version;
    const instances = (await this.options.connectors?.()) ?? [];
    // The text changed while an MCP server listed its tools: the newer check publishes.
    if (this.documents.get(document.uri)?.version !== version) return;
    this.publish(document.uri, [
      ...parsed.problems,
      ...(parsed.runbook
        ? connectorProblems(text, classified.path, parsed.runbook, instances, (use) =>
            findInstance(instances, use),
          )
        : []),
    ]);
    if (!parsed.runbook || !this.options.handoffProblems) return;
    // Hand-offs need the other runbooks: their problems follow, unless the text changed meanwhile.
    this.options
      .handoffProblems({ path: classified.path, text, runbook: parsed.runbook })
      .then((problems) => {
        if (problems.length > 0 && this.documents.get(document.uri)?.version === version)
          this.publish(document.uri, problems);
      })
      .catch(() => undefined);
  }

  private publish(uri: string, problems: Problem[]): void {
    this.live.add(uri);
    this.options.diagnostics.setLive(uri, problems);
  }

  private async locate(params: TextDocumentPositionParams) {
    const classified = this.documents.get(params.textDocument.uri)
      ? this.classify(params.textDocument.uri)
      : null;
    if (!classified) return null;
    const assist = await this.assist(classified.kind);
    // Read after the wait: the position is the editor's for the text as it is now.
    const document = this.documents.get(params.textDocument.uri);
    if (!document) return null;
    return { document, offset: document.offsetAt(params.position), assist };
  }

  /** Runbooks are `<dir>/**.yaml`; test files are `<dir>/tests/*.test.yaml`; the rest is not ours. */
  private classify(uri: string): Classified | null {
    if (!uri.startsWith('file:')) return null;
    const path = relative(this.options.workspace, canonicalFilePath(uri)).split(sep).join('/');
    const dir = this.options.runbooksDir().replace(/\/+$/, '');
    if (!path.startsWith(`${dir}/`) || !/\.ya?ml$/.test(path)) return null;
    const inside = path.slice(dir.length + 1);
    if (!inside.startsWith('tests/')) return { kind: 'runbook', path };
    return /^tests\/[^/]+\.test\.ya?ml$/.test(inside) ? { kind: 'runbookTest', path } : null;
  }

  private async assist(kind: RunbookKind): Promise<SchemaAssist> {
    const instances = (await this.options.connectors?.()) ?? [];
    // Its actions too: an MCP server's tools appear once it listed them.
    const signature = instances
      .map((i) => `${i.use}=${i.connector.id}:${Object.keys(i.connector.actions).join('|')}`)
      .join(',');
    if (this.assists === null || signature !== this.assistConnectors) {
      this.assistConnectors = signature;
      this.assists = {
        runbook: new SchemaAssist(runbookSchemaWithConnectors(toInputJsonSchema(Runbook), instances)),
        runbookTest: new SchemaAssist(toInputJsonSchema(RunbookTestFile)),
      };
    }
    return this.assists[kind];
  }
}

/** The file a `file:` URI names, through symlinks where it exists (the workspace path is real). */
export function canonicalFilePath(uri: string): string {
  const path = fileURLToPath(uri);
  try {
    return realpathSync(path);
  } catch {
    return path; // Not saved yet, or gone: the path as the editor gave it.
  }
}
