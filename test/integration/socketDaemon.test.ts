/**
 * A real daemon process serving its real unix socket: authentication, private files, validation
 * of params, notifications, the one-daemon-per-workspace lock and a clean stop.
 */
import { readFile, stat, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  KeelRpcError,
  StatusChangedNotification,
  StatusRequest,
  WorkspaceInitRequest,
  type DaemonStatus,
} from '@keel/schemas';
import { SocketClient } from '../../daemon/src/rpc/socketClient';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';
import { runKeel, startDaemon, waitFor, type RunningDaemon } from '../helpers/processes';

interface LockFile {
  pid: number;
  socketPath: string;
  tokenPath: string;
}

let dirs: TempDirs;
let daemon: RunningDaemon | null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  await runKeel(['init', dirs.workspace], { runtime: dirs.runtime });
  daemon = await startDaemon(dirs.workspace, dirs.runtime);
});

afterEach(async () => {
  if (daemon && daemon.process.exitCode === null) {
    daemon.process.kill('SIGKILL');
    await daemon.exited;
  }
  await dirs.cleanup();
});

const lockFile = async (): Promise<LockFile> =>
  JSON.parse(await readFile(join(dirs.workspace, '.keel', 'daemon.lock'), 'utf8')) as LockFile;

async function authenticatedClient(): Promise<SocketClient> {
  const lock = await lockFile();
  const token = (await readFile(lock.tokenPath, 'utf8')).trim();
  return SocketClient.connectAndAuthenticate(lock.socketPath, token, 'test');
}

async function expectRpcError(promise: Promise<unknown>, code: number): Promise<KeelRpcError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelRpcError);
  expect((error as KeelRpcError).code).toBe(code);
  return error as KeelRpcError;
}

describe('the daemon on its unix socket', () => {
  it('keeps its socket and token private to the user', async () => {
    const lock = await lockFile();
    expect(lock.pid).toBe(daemon!.pid);
    expect((await stat(dirs.runtime)).mode & 0o777).toBe(0o700);
    expect((await stat(lock.socketPath)).mode & 0o777).toBe(0o600);
    expect((await stat(lock.tokenPath)).mode & 0o777).toBe(0o600);
    expect(lock.socketPath.startsWith(dirs.runtime)).toBe(true);
    // The token is a secret: it is in neither the workspace nor the daemon's log.
    const token = (await readFile(lock.tokenPath, 'utf8')).trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(lock)).not.toContain(token);
    expect(daemon!.output()).not.toContain(token);
  });

  it('refuses requests from a connection that has not sent the token, and closes it', async () => {
    const client = await SocketClient.connect((await lockFile()).socketPath);
    const error = await expectRpcError(client.request(StatusRequest), ErrorCodes.Unauthorized);
    expect(error.message).toMatch(/keel\/auth/);
    await waitFor('the connection to close', () => client.closed);
  });

  it('refuses a wrong token, and closes the connection', async () => {
    const { socketPath } = await lockFile();
    const wrong = 'f'.repeat(64);
    await expectRpcError(
      SocketClient.connectAndAuthenticate(socketPath, wrong, 'test'),
      ErrorCodes.Unauthorized,
    );
    expect(daemon!.output()).toMatch(/wrong token/);
    expect(daemon!.output()).not.toContain(wrong);
  });

  it('answers status to a client with the right token', async () => {
    const client = await authenticatedClient();
    const status = await client.request(StatusRequest);
    expect(status).toMatchObject({
      state: 'ready',
      pid: daemon!.pid,
      workspace: dirs.workspace,
      config: 'valid',
      mode: 'daemon',
      socketPath: (await lockFile()).socketPath,
    });
    await client.close();
  });

  it('answers invalid params with the zod message, and keeps serving', async () => {
    const client = await authenticatedClient();
    const error = await expectRpcError(
      client.request(StatusRequest, { verbose: true } as never),
      ErrorCodes.InvalidParams,
    );
    expect(error.message).toMatch(/Invalid params for keel\/status: .*Unrecognized key: "verbose"/s);
    expect(error.data).toMatchObject({ issues: [expect.objectContaining({ code: 'unrecognized_keys' })] });
    // The same connection, and a new one, still work.
    expect((await client.request(StatusRequest)).state).toBe('ready');
    const other = await authenticatedClient();
    expect((await other.request(StatusRequest)).pid).toBe(daemon!.pid);
    await Promise.all([client.close(), other.close()]);
  });

  it('answers an unknown method with MethodNotFound', async () => {
    const client = await authenticatedClient();
    const bogus = { ...StatusRequest, method: 'keel/nonsense' as const };
    await expectRpcError(client.request(bogus), ErrorCodes.MethodNotFound);
    await client.close();
  });

  it('tells connected clients when keel.yaml breaks and when it is fixed', async () => {
    const client = await authenticatedClient();
    const seen: DaemonStatus[] = [];
    client.onNotification(StatusChangedNotification, (status) => seen.push(status));
    const configPath = join(dirs.workspace, 'keel.yaml');
    const original = await readFile(configPath, 'utf8');
    await appendFile(configPath, 'modles: {}\n');
    const broken = await waitFor('an invalid-config notification', () =>
      seen.find((s) => s.config === 'invalid'),
    );
    expect(broken.problems[0]).toMatchObject({
      path: 'keel.yaml',
      message: expect.stringContaining('modles'),
    });
    await writeFile(configPath, original);
    await waitFor('a valid-config notification', () => seen.at(-1)?.config === 'valid');
    await client.close();
  });

  it('lets a second daemon on the same workspace refuse, naming the running pid and socket', async () => {
    const second = await runKeel(['daemon', '--workspace', dirs.workspace], { runtime: dirs.runtime });
    expect(second.code).toBe(1);
    const { socketPath } = await lockFile();
    expect(second.stderr).toContain(`pid ${daemon!.pid}`);
    expect(second.stderr).toContain(socketPath);
    // The first daemon is unharmed.
    const client = await authenticatedClient();
    expect((await client.request(StatusRequest)).pid).toBe(daemon!.pid);
    await client.close();
  });

  it('is used by CLI commands instead of starting another daemon', async () => {
    const result = await runKeel(['status', '--json'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as DaemonStatus;
    expect(status).toMatchObject({ pid: daemon!.pid, mode: 'daemon' });
  });

  it('initializes through the socket without touching what is there', async () => {
    const client = await authenticatedClient();
    const result = await client.request(WorkspaceInitRequest);
    expect(result.created).toEqual([]);
    expect(result.kept).toEqual(['keel.yaml', 'memory/', 'runbooks/', '.gitignore']);
    await client.close();
  });

  it('stops on keel stop, releasing its lock, socket and token', async () => {
    const lock = await lockFile();
    const result = await runKeel(['stop'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(result.stdout).toContain(`Stopped the Keel daemon for ${dirs.workspace} (pid ${daemon!.pid})`);
    expect(await daemon!.exited).toBe(0);
    for (const path of [join(dirs.workspace, '.keel', 'daemon.lock'), lock.socketPath, lock.tokenPath]) {
      await expect(stat(path)).rejects.toThrow(/ENOENT/);
    }
    const again = await runKeel(['stop'], { cwd: dirs.workspace, runtime: dirs.runtime });
    expect(again.stdout).toContain('No Keel daemon is running');
  });

  it('can be replaced after kill -9: the stale lock is taken over', async () => {
    daemon!.process.kill('SIGKILL');
    await daemon!.exited;
    const stale = await lockFile();
    expect(stale.pid).toBe(daemon!.pid);
    daemon = await startDaemon(dirs.workspace, dirs.runtime);
    expect((await lockFile()).pid).toBe(daemon.pid);
    const client = await authenticatedClient();
    expect((await client.request(StatusRequest)).pid).toBe(daemon.pid);
    await client.close();
  });
});
