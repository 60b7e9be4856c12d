/**
 * keeld as the editor starts it: a child process over node-ipc speaking LSP, driven here by
 * vscode-jsonrpc exactly as vscode-languageclient does. Same router as the socket.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  StatusChangedNotification,
  StatusRequest,
  WorkspaceInitRequest,
  type DaemonStatus,
} from '@keel/schemas';
import { KEELD, keelEnv, runKeel, waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

interface Keeld {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<number | null>;
  statuses: DaemonStatus[];
}

let dirs: TempDirs;
const started: Keeld[] = [];

beforeEach(async () => {
  dirs = await makeTempDirs();
});

afterEach(async () => {
  for (const keeld of started.splice(0)) {
    keeld.connection.dispose();
    if (keeld.child.exitCode === null) keeld.child.kill('SIGKILL');
    await keeld.exited;
  }
  await dirs.cleanup();
});

function spawnKeeld(): Keeld {
  const child = fork(KEELD, ['--node-ipc', '--workspace', dirs.workspace], {
    env: keelEnv(dirs.runtime),
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const statuses: DaemonStatus[] = [];
  connection.onNotification(StatusChangedNotification.method, (params: unknown) => {
    statuses.push(StatusChangedNotification.params.parse(params));
  });
  connection.listen();
  const keeld = { child, connection, exited, statuses };
  started.push(keeld);
  return keeld;
}

async function initialize(keeld: Keeld): Promise<unknown> {
  return keeld.connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {},
    workspaceFolders: null,
  });
}

describe('keeld over the LSP connection', () => {
  it('initializes, answers keel/status and reports the uninitialized folder', async () => {
    const keeld = spawnKeeld();
    expect(await initialize(keeld)).toMatchObject({ serverInfo: { name: 'keeld' } });
    const status = StatusRequest.result.parse(await keeld.connection.sendRequest(StatusRequest.method, {}));
    expect(status).toMatchObject({
      state: 'ready',
      workspace: dirs.workspace,
      config: 'missing',
      mode: 'daemon',
    });
    expect(status.pid).toBe(keeld.child.pid);
  });

  it('initializes the workspace on request and pushes the new status', async () => {
    const keeld = spawnKeeld();
    await initialize(keeld);
    const result = WorkspaceInitRequest.result.parse(
      await keeld.connection.sendRequest(WorkspaceInitRequest.method, {}),
    );
    expect(result.created).toEqual(['keel.yaml', 'memory/', 'runbooks/', '.gitignore']);
    expect(await readFile(join(dirs.workspace, 'keel.yaml'), 'utf8')).toContain('version: 1');
    await waitFor('a status notification with a valid config', () =>
      keeld.statuses.some((s) => s.config === 'valid'),
    );
  });

  it('answers invalid params with an error carrying the zod message, and stays up', async () => {
    const keeld = spawnKeeld();
    await initialize(keeld);
    const error = await keeld.connection.sendRequest(StatusRequest.method, { bogus: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ResponseError);
    expect((error as ResponseError<unknown>).code).toBe(ErrorCodes.InvalidParams);
    expect((error as ResponseError<unknown>).message).toMatch(/Unrecognized key: "bogus"/);
    expect(keeld.child.exitCode).toBeNull();
    expect(await keeld.connection.sendRequest(StatusRequest.method, {})).toMatchObject({ state: 'ready' });
  });

  it('fails to initialize when another daemon holds the workspace, naming it', async () => {
    const first = spawnKeeld();
    await initialize(first);
    const second = spawnKeeld();
    const error = await initialize(second).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as ResponseError<unknown>).code).toBe(ErrorCodes.DaemonAlreadyRunning);
    expect((error as ResponseError<unknown>).message).toContain(`pid ${first.child.pid}`);
  });

  it('serves the CLI on its socket at the same time', async () => {
    const keeld = spawnKeeld();
    await initialize(keeld);
    await keeld.connection.sendRequest(WorkspaceInitRequest.method, {});
    const cli = await runKeel(['status', '--json'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(JSON.parse(cli.stdout)).toMatchObject({ pid: keeld.child.pid, mode: 'daemon' });
  });

  it('stops when the CLI asks, telling the editor first', async () => {
    const keeld = spawnKeeld();
    await initialize(keeld);
    await keeld.connection.sendRequest(WorkspaceInitRequest.method, {});
    const stop = await runKeel(['stop'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(stop.code).toBe(0);
    expect(await keeld.exited).toBe(0);
    expect(keeld.statuses.at(-1)?.state).toBe('stopping');
  });

  it('exits cleanly on the LSP shutdown and exit sequence, releasing the lock', async () => {
    const keeld = spawnKeeld();
    await initialize(keeld);
    await keeld.connection.sendRequest('shutdown');
    await keeld.connection.sendNotification('exit');
    expect(await keeld.exited).toBe(0);
    await expect(readFile(join(dirs.workspace, '.keel', 'daemon.lock'))).rejects.toThrow(/ENOENT/);
  });
});
