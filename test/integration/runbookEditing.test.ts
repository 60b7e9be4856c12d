/**
 * Editing a runbook in the editor: keeld over node-ipc, driven by vscode-jsonrpc as
 * vscode-languageclient does. Diagnostics follow the unsaved text; completion and hovers come from
 * the runbook schema.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type {
  CompletionItem,
  CompletionList,
  Diagnostic,
  Hover,
  MarkupContent,
  PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol';
import { KEELD, keelEnv } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const RUNBOOK = `apiVersion: keel/v1
name: onboarding
role: Customer onboarding lead
description: Welcomes a new customer.
budget:
  maxUsd: 1
steps:
  - id: plan
    type: llm
    prompt: Plan the onboarding of {{ inputs.customer }}
`;

interface Editor {
  connection: MessageConnection;
  /** Resolves with the first diagnostics published for `uri` that satisfy `accept`. */
  diagnostics(uri: string, accept: (diagnostics: Diagnostic[]) => boolean): Promise<Diagnostic[]>;
  open(uri: string, text: string): Promise<void>;
  change(uri: string, version: number, text: string): Promise<void>;
  close(uri: string): Promise<void>;
  complete(uri: string, line: number, character: number): Promise<string[]>;
  hover(uri: string, line: number, character: number): Promise<string>;
}

let dirs: TempDirs;
let keeld: { child: ChildProcess; connection: MessageConnection; exited: Promise<unknown> } | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\n');
  await mkdir(join(dirs.workspace, 'runbooks'));
});

afterEach(async () => {
  if (keeld) {
    keeld.connection.dispose();
    if (keeld.child.exitCode === null) keeld.child.kill('SIGKILL');
    await keeld.exited;
    keeld = null;
  }
  await dirs.cleanup();
});

async function startEditor(): Promise<Editor> {
  const child = fork(KEELD, ['--node-ipc', '--workspace', dirs.workspace], {
    env: keelEnv(dirs.runtime),
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const latest = new Map<string, Diagnostic[]>();
  const waiters = new Set<() => void>();
  connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    latest.set(params.uri, params.diagnostics);
    for (const waiter of [...waiters]) waiter();
  });
  connection.listen();
  keeld = { child, connection, exited };
  const result = await connection.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {},
    workspaceFolders: null,
  });
  expect(result.capabilities).toMatchObject({ hoverProvider: true, completionProvider: {} });
  await connection.sendNotification('initialized', {});
  const textDocument = (uri: string) => ({ uri });
  return {
    connection,
    diagnostics: (uri, accept) =>
      new Promise((resolve) => {
        const check = (): void => {
          const current = latest.get(uri);
          if (current && accept(current)) {
            waiters.delete(check);
            resolve(current);
          }
        };
        waiters.add(check);
        check();
      }),
    open: (uri, text) =>
      connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'yaml', version: 1, text },
      }),
    change: (uri, version, text) =>
      connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version },
        contentChanges: [{ text }],
      }),
    close: (uri) => connection.sendNotification('textDocument/didClose', { textDocument: textDocument(uri) }),
    complete: async (uri, line, character) => {
      const result = await connection.sendRequest<CompletionItem[] | CompletionList | null>(
        'textDocument/completion',
        { textDocument: textDocument(uri), position: { line, character } },
      );
      const items = Array.isArray(result) ? result : (result?.items ?? []);
      return items.map((item) => item.label);
    },
    hover: async (uri, line, character) => {
      const hover = await connection.sendRequest<Hover | null>('textDocument/hover', {
        textDocument: textDocument(uri),
        position: { line, character },
      });
      return hover ? (hover.contents as MarkupContent).value : '';
    },
  };
}

function runbookUri(name: string, dir = 'runbooks'): string {
  return pathToFileURL(join(dirs.workspace, dir, name)).toString();
}

/** RUNBOOK with `line` inserted before the 1-based line `at`. */
function withLine(at: number, line: string): string {
  const lines = RUNBOOK.split('\n');
  lines.splice(at - 1, 0, line);
  return lines.join('\n');
}

describe('editing a runbook', () => {
  it('marks an unknown key at its exact place, and clears it when the text is fixed without saving', async () => {
    const editor = await startEditor();
    const uri = runbookUri('onboarding.yaml');
    const broken = withLine(10, '    bogusKey: 1'); // Line 10, inside the llm step, column 5.
    await writeFile(join(dirs.workspace, 'runbooks', 'onboarding.yaml'), broken);
    await editor.open(uri, broken);
    const [problem, ...others] = await editor.diagnostics(uri, (d) => d.length > 0);
    expect(others).toEqual([]);
    expect(problem?.range).toEqual({
      start: { line: 9, character: 4 },
      end: { line: 9, character: 12 },
    });
    expect(problem?.message).toContain('bogusKey');

    await editor.change(uri, 2, RUNBOOK);
    await editor.diagnostics(uri, (d) => d.length === 0);
    expect(await readFile(join(dirs.workspace, 'runbooks', 'onboarding.yaml'), 'utf8')).toContain('bogusKey');
  });

  it('marks a hand-off that closes a cycle with the saved runbooks as the text is typed', async () => {
    const pong = RUNBOOK.replace('name: onboarding', 'name: pong').replace(
      '  - id: plan\n    type: llm\n    prompt: Plan the onboarding of {{ inputs.customer }}\n',
      '  - { id: back, type: runbook, runbook: ping }\n',
    );
    await writeFile(join(dirs.workspace, 'runbooks', 'pong.yaml'), pong);
    const ping = pong.replace('name: pong', 'name: ping').replace('runbook: ping', 'runbook: pong');
    await writeFile(
      join(dirs.workspace, 'runbooks', 'ping.yaml'),
      ping.replace('runbook: pong', 'runbook: nobody'),
    );
    const editor = await startEditor();
    const uri = runbookUri('ping.yaml');
    await editor.open(uri, ping);
    const [problem] = await editor.diagnostics(uri, (d) =>
      d.some((p) => typeof p.message === 'string' && p.message.includes('cycle')),
    );
    expect(problem?.message).toBe(
      'steps.0.runbook: runbooks hand off in a cycle (ping → pong → ping): a run would never end',
    );
    expect(problem?.range.start.line).toBe(7);
    // Handing off elsewhere, unsaved, clears it.
    await editor.change(uri, 2, RUNBOOK.replace('name: onboarding', 'name: ping'));
    await editor.diagnostics(uri, (d) => d.length === 0);
  });

  it('locates a YAML syntax error, and drops the live view when the document closes', async () => {
    const editor = await startEditor();
    const uri = runbookUri('onboarding.yaml');
    await editor.open(uri, RUNBOOK.replace('role: Customer onboarding lead', 'role: lead: of onboarding'));
    const [problem] = await editor.diagnostics(uri, (d) => d.length > 0);
    expect(problem?.message).toBe('YAML syntax: Nested mappings are not allowed in compact mappings');
    expect(problem?.range.start).toEqual({ line: 2, character: 6 });

    // Nothing on disk: once closed, the file has no problems in the editor.
    await editor.close(uri);
    await editor.diagnostics(uri, (d) => d.length === 0);
  });

  it('completes the keys of an llm step, from a half-typed word', async () => {
    const editor = await startEditor();
    const uri = runbookUri('onboarding.yaml');
    await editor.open(uri, `${RUNBOOK}    ma`);
    const labels = await editor.complete(uri, 10, 6);
    expect(labels).toEqual(expect.arrayContaining(['schema', 'maxOutputTokens', 'system', 'temperature']));
    // `prompt` is already there; `query` belongs to retrieve steps.
    expect(labels).not.toContain('prompt');
    expect(labels).not.toContain('query');

    const fresh = RUNBOOK.replace('    prompt: Plan the onboarding of {{ inputs.customer }}\n', '    pr');
    await editor.change(uri, 2, fresh);
    expect(await editor.complete(uri, 9, 6)).toEqual(expect.arrayContaining(['prompt', 'schema']));
  });

  it('completes step types and top-level keys not yet present', async () => {
    const editor = await startEditor();
    const uri = runbookUri('onboarding.yaml');
    await editor.open(uri, RUNBOOK.replace('type: llm', 'type: '));
    expect(await editor.complete(uri, 8, 10)).toEqual([
      'retrieve',
      'llm',
      'agent',
      'propose',
      'connector',
      'runbook',
      'checkpoint',
      'query',
      'import',
    ]);

    await editor.change(uri, 2, `${RUNBOOK}\n`);
    const top = await editor.complete(uri, 10, 0);
    expect(top).toEqual(expect.arrayContaining(['inputs', 'model', 'outputs', 'success', 'escalation']));
    for (const present of ['apiVersion', 'name', 'role', 'description', 'budget', 'steps']) {
      expect(top).not.toContain(present);
    }
  });

  it('shows a key’s description and type on hover', async () => {
    const editor = await startEditor();
    const uri = runbookUri('onboarding.yaml');
    await editor.open(uri, RUNBOOK);
    const text = await editor.hover(uri, 5, 4); // On `maxUsd`.
    expect(text).toContain('**maxUsd**: `number`');
    expect(text).toContain('Largest spend of one run in US dollars');
  });

  it('follows keel.yaml’s runbooks folder and leaves other YAML files alone', async () => {
    await writeFile(join(dirs.workspace, 'keel.yaml'), 'version: 1\nrunbooks:\n  dir: playbooks\n');
    const editor = await startEditor();
    const elsewhere = runbookUri('notes.yaml', 'memory');
    await editor.open(elsewhere, 'bogus: [');
    expect(await editor.complete(elsewhere, 0, 0)).toEqual([]);
    const uri = runbookUri('onboarding.yaml', 'playbooks');
    await editor.open(uri, withLine(2, 'bogusTop: 1'));
    const [problem] = await editor.diagnostics(uri, (d) => d.length > 0);
    expect(problem?.range.start).toEqual({ line: 1, character: 0 });
    expect(problem?.message).toContain('bogusTop');
  });
});
